# %% [markdown]
# # Gallery: every dataset at a glance
#
# ## Overview
#
# One row for each dataset and run profile with finished runs under `runs_root`: the
# three protocols ((a) cluster-to-label mapping, (b) kNN, (c) linear probe), Hungarian
# accuracy where the runs have it, the floors, and the decoded prototypes. Nothing here
# is typed by hand: the page reads the run folders, so a dataset's run added there gets
# a row. To add one, train and score it with, for example,
# `cae reproduce --dataset bloodmnist --profile quick --run-dir artifacts/bloodmnist-quick-seed0`
# (any single-label 2D MedMNIST set; see the dataset chapter) and execute this page
# again.
#
# **Prerequisites.** [Method](../book/method.md) for the protocols and
# [Baselines and floors](03_baselines.ipynb) for the floors; the dataset chapters,
# [MNIST](01_mnist.ipynb) and [the MedMNIST chapter](02_pneumoniamnist.ipynb), show
# each run in full.

# %% tags=["parameters"]
runs_root = "../artifacts"  # folder of run directories <dataset>-<profile>-seed<seed>
split = "test"  # the split every score is on

# %%
from cae.errors import brief_in_notebooks
from cae.notebook_params import check_parameters

brief_in_notebooks()  # a refusal shows as its message, not as a traceback
check_parameters(In)  # a parameter this notebook does not declare stops here, naming it

# %%
from IPython.display import HTML

from cae.report import gallery

# %% [markdown]
# ## The gallery
#
# Each score is the accuracy on the split named above, the mean over the row's seeds;
# beneath it, in small type, the same protocol read out on raw pixels instead of the
# latent space, the floor the encoder has to beat. A dash: the row's runs lack that
# protocol (runs older than Hungarian accuracy). The majority class always answers the
# training set's most frequent label. Under each row, the decoded prototypes of its
# lowest seed's run: each cluster's prototype through the conditional decoder, titled
# with the label its cluster maps to.

# %%
rows = gallery.gallery_rows(runs_root, split)
HTML(gallery.gallery_html(rows))

# %% [markdown]
# ## How to read it
#
# - **Profiles.** `paper` follows the paper's schedule; `validated` keeps that schedule
#   and sets the choices the paper leaves open on validation data; `beyond` adds the two
#   changes the selection screen found best (not in the paper); `authors` takes every
#   setting the first author's public code fixes (all in the method chapter); `quick`
#   and `smoke` are shortened schedules whose numbers only show that the pipeline runs.
# - **Against the floors.** A score above its pixel floor is what the learned
#   representation adds; one below it says the images alone, read the same way, do as
#   well. The majority class is the floor of every protocol.
# - **Prototypes.** Several prototypes mapped to one label are finer groups within that
#   class; a label no prototype maps to is one the clusters did not find.
#
# ## Summary
#
# - Every finished run in the folder, one row per dataset and profile, read from the
#   runs' own files.
# - Scores, their floors and the decoded prototypes side by side.
#
# **Next:** the [prototype explorer](../book/explorer.md) decodes a run's prototypes in
# your browser, mixed as you choose; the paper's own numbers beside ours are in
# [Table 1](04_table1.ipynb), and how to rerun everything in
# [Reproducibility](../book/reproducibility.md).
