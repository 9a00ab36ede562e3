# %% [markdown]
# # MNIST: a proof of concept
#
# Stand-in page for the book build; the real notebook replaces it.

# %%
print("stand-in: 01_mnist")
