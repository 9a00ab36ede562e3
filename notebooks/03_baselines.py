# %% [markdown]
# # Baselines and floors
#
# ## Overview
#
# A clustering result means little without something to beat. The paper compares its
# model with two baselines built on an ImageNet-pretrained ResNet-18:
#
# - **ResNet18** (protocol `transfer`): every layer before the average pool frozen, the
#   final fully connected layer replaced by one with one unit per class and trained with
#   Adam on the training labels. This one is *supervised*: an upper reference.
# - **Feature+KM** (protocol `stat`): the same frozen ResNet-18 features, clustered by
#   KMeans with the elbow search, clusters mapped to labels exactly as in protocol (a).
#
# This companion adds three floors the paper lacks, scored on the same splits:
#
# - **majority class**: always predict the most frequent training label;
# - **raw pixels**: the three protocols on the flattened images instead of the latent
#   space, to see what the encoder adds over no representation at all;
# - **untrained encoder**: the three protocols on a randomly initialised encoder with the
#   same architecture and seed, to see what *training* adds over the architecture.
#
# **Prerequisites.** [PneumoniaMNIST](02_pneumoniamnist.ipynb), whose run this page
# reads back (the baselines and floors are computed by the same `reproduce` call).
#
# **Weights.** The paper's baselines need torchvision's ImageNet ResNet-18 weights. On a
# machine that cannot download them (this book is built offline) they must be put in the
# torch hub cache (see [Reproducibility](../book/reproducibility.md)). The parameter
# `allow_untrained_weights` (default `True`, so that the book builds offline) lets the
# run fall back to an *untrained* ResNet-18 instead of stopping; every such row is
# labelled `weights = untrained` and is **not** the paper's baseline. Set it to `False`
# to make a missing weights file an error.

# %% tags=["parameters"]
dataset = "pneumoniamnist"
data_dir = None  # None: $CAE_DATA_DIR, else the libraries' default caches
profile = "paper"  # smoke (seconds), quick (minutes), paper (the paper's schedule)
seed = 0
device = "auto"  # auto, cpu, cuda
retrain = False  # True: train again even if a finished run exists
runs_root = "../artifacts"  # run directories <dataset>-<profile>-seed<seed> live here
allow_untrained_weights = True  # False: stop when the ImageNet weights are missing
epochs = None  # None: the profile's; a number changes it (the warm-up scales with it)
batch_size = None  # None: the profile's
overrides = {}  # any other setting (a RunConfig field, as the CLI's --set), e.g. {"temperature": 0.2}
run_name = None  # None: a folder named after the profile, seed and the settings changed

# %%
from cae.errors import brief_in_notebooks
from cae.notebook_params import check_parameters, notebook_run

brief_in_notebooks()  # a refusal shows as its message, not as a traceback
check_parameters(In)  # a parameter this notebook does not declare stops here, naming it

# %%
from IPython.display import Markdown

from cae.report import readouts

# %% tags=["nbval-ignore-output"]
cfg, artifacts = notebook_run(profile, overrides, runs_root, run_name, retrain, dataset=dataset,
                              seed=seed, data_dir=data_dir, device=device, epochs=epochs,
                              batch_size=batch_size, progress=False,
                              allow_untrained_weights=allow_untrained_weights)

# %%
Markdown(readouts.provenance_note(artifacts))

# %% [markdown]
# ## Which weights?
#
# Read from the run's metrics (the `weights` column every baseline row carries):

# %%
Markdown(readouts.weights_warning(artifacts.metrics))

# %% [markdown]
# ## The two ResNet-18 baselines
#
# `k` is the number of KMeans clusters the elbow chose on the ResNet-18 features.

# %%
readouts.metrics_view(artifacts.metrics, ["ResNet18", "Feature+KM"])

# %% [markdown]
# ## The floors
#
# The majority-class accuracy is the share of the majority class in each split; its
# macro recall is 1 / (number of classes) and its AUC one half, that of chance. A protocol that does not beat
# the same protocol on raw pixels has learned nothing useful for it, and one that does
# not beat the untrained encoder owes its score to the architecture, not to training.

# %%
readouts.metrics_view(artifacts.metrics, ["majority class", "raw pixels", "untrained encoder"])

# %% [markdown]
# ## Our model, for reference
#
# The contrastive autoencoder under the same three protocols (from
# [PneumoniaMNIST](02_pneumoniamnist.ipynb)):

# %%
readouts.metrics_view(artifacts.metrics, ["CAE (ours)"])

# %% [markdown]
# ## Summary
#
# - The supervised ResNet-18 is an upper reference, Feature+KM an unsupervised one; both
#   depend on ImageNet weights, and rows labelled `untrained` are not them.
# - The floors say how much of a score comes from the class balance (majority class),
#   from the pixels themselves (raw pixels) and from the architecture (untrained encoder).
#
# **Next:** every row over all seeds, with intervals, beside the paper's numbers in
# [Table 1](04_table1.ipynb).
