# %% [markdown]
# # ResNet-18 baselines
#
# Stand-in page for the book build; the real notebook replaces it.

# %%
print("stand-in: 03_baselines")
