# %% [markdown]
# # PneumoniaMNIST: clustering chest radiographs
#
# Stand-in page for the book build; the real notebook replaces it.

# %%
print("stand-in: 02_pneumoniamnist")
