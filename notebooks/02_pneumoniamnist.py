# %% [markdown]
# # A MedMNIST dataset: clusters without labels
#
# ## Overview
#
# The medical test of the method, on one 2D MedMNIST v2 dataset: the `dataset` parameter
# names it, and everything this page says about the dataset (its description, task,
# classes, channels, licence) comes from MedMNIST's own metadata. The book shows it for
# the dataset of the paper's medical experiment. The contrastive autoencoder is trained
# without labels; labels are used only afterwards, to ask whether its clusters match the
# expert classes. This chapter shows the paper's figures for the dataset (its Figures 2
# and 4: the latent space with its prototypes, and the decoded prototypes) and the three
# protocols on both the validation and the test split. The two splits can have different
# class proportions, computed from the data below, which is why the paper reports both.
#
# **Prerequisites.** [Method](../book/method.md) for the model and protocols;
# [MNIST](01_mnist.ipynb) walks through the same figures on digits. Running this
# notebook needs the `cae` package and the dataset's MedMNIST file `<dataset>.npz` (see
# [Reproducibility](../book/reproducibility.md); a file of one's own in the same format
# is read with `CAE_UNOFFICIAL_DATA=1`); unless the run's artifacts exist under
# `runs_root`, it trains: seconds with `profile="smoke"`, hours on a CPU with `"paper"`.
# Any single-label 2D MedMNIST set runs, grey or colour, binary, multi-class or ordinal:
# execute the notebook with papermill from the `notebooks` folder (or with
# `--cwd notebooks`) and `-p dataset bloodmnist`, say. Multi-label sets and the 3D sets
# stop at the dataset's description below, which says why.

# %% tags=["parameters"]
dataset = "pneumoniamnist"
data_dir = None  # None: $CAE_DATA_DIR, else the libraries' default caches
profile = "paper"  # smoke (seconds), quick (minutes), paper (the paper's schedule)
seed = 0
device = "auto"  # auto, cpu, cuda
retrain = False  # True: train again even if a finished run exists
runs_root = "../artifacts"  # run directories <dataset>-<profile>-seed<seed> live here
allow_untrained_weights = True  # offline: run the ResNet-18 baselines untrained (labelled so)
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
from IPython.display import Image, Markdown, display

from cae.data import dataset_notes
from cae.data.dataset_info import supported
from cae.data.datasets import load
from cae.infra.runs import composition_ks
from cae.report import readouts, verdicts

# %% [markdown]
# ## The dataset
#
# What MedMNIST's metadata (medmnist's `INFO`) says about the dataset:

# %%
info = supported(dataset)
Markdown(dataset_notes.introduction(info))

# %% [markdown]
# Train (or read back) the run, with its protocols, floors, baselines and figures:

# %% tags=["nbval-ignore-output"]
cfg, artifacts = notebook_run(profile, overrides, runs_root, run_name, retrain, dataset=dataset,
                              seed=seed, data_dir=data_dir, device=device, epochs=epochs,
                              batch_size=batch_size, progress=False,
                              allow_untrained_weights=allow_untrained_weights)
figures_dir = artifacts.run_dir / "figures"

# %%
Markdown(readouts.provenance_note(artifacts))

# %% [markdown]
# ## The data
#
# Images per class in each split, counted from the data file (the training split is the
# run's training set, a random subset in the `smoke` profile):

# %%
data = load(cfg)
readouts.class_proportions(data)

# %%
Markdown(dataset_notes.class_balance(data))

# %% [markdown]
# The first eight test images of each class:

# %%
display(*readouts.figure(artifacts, "montage.png"))

# %%
for note in dataset_notes.asides(dataset, "images"):
    display(Markdown(note))

# %% [markdown]
# ## Training and the number of clusters
#
# Losses of both phases (phase 2, after the dashed line, trains only the conditional
# decoder) and the learning-rate schedule:

# %%
display(*readouts.figure(artifacts, "training.png"))

# %% [markdown]
# KMeans on the frozen latent space for every k in the range, and the elbow's pick. The
# elbow may find more clusters than there are expert classes: the method is meant to
# refine them (finer groups within a class), and protocol (a) maps several clusters to
# one label.

# %%
Markdown(f"The elbow chose **k = {artifacts.elbow['k']}** clusters "
         f"(searched k = {artifacts.elbow['ks'][0]} to {artifacts.elbow['ks'][-1]}) for "
         f"{data.n_classes} classes.")

# %%
display(*readouts.figure(artifacts, "elbow.png"))

# %% [markdown]
# How much the choice of k matters for protocol (a): the same mapping for every k of the
# range. Mapped accuracy can only gain from more, purer clusters, whatever they mean;
# NMI and ARI measure agreement with the labels without that reward. The dashed line is
# the elbow's choice. (A notebook cell can show this for any run: the numbers are in
# the run's `mapping_vs_k.json`.)

# %%
for split in data.eval_splits:
    display(Markdown(f"**{split} split**"), *readouts.figure(artifacts, f"mapping_vs_k_{split}.png"))

# %% [markdown]
# What the clusters hold: for each cluster, the share of its test images with each
# expert label, at the elbow's k and at the k of the range nearest the number of
# classes. A cluster of one label is a finer group of that class; a mixed one is where
# clustering without labels and the expert labels disagree.

# %%
for k in composition_ks(artifacts.elbow, data.n_classes):
    display(*readouts.figure(artifacts, f"composition_test_k{k}.png"))

# %% [markdown]
# ## The latent space, on each evaluation split
#
# t-SNE maps of the latent vectors coloured by (A) the expert label, (B) the cluster,
# (C) the label each cluster maps to; stars are the prototypes. Compare (A) with (C):
# where they agree, clustering without labels recovered the expert labels. t-SNE
# preserves neighbourhoods, not distances or cluster sizes.

# %%
for split in data.eval_splits:
    display(Markdown(f"**{split} split**"), *readouts.figure(artifacts, f"tsne_{split}.png"))

# %% [markdown]
# ## Reconstructions and decoded prototypes
#
# Test images (top) and their reconstructions by the conditional decoder (bottom):

# %%
display(*readouts.figure(artifacts, "reconstructions.png"))

# %% [markdown]
# Each cluster's prototype decoded into an image, titled with the label it maps to: what
# an expert would inspect to judge what the images of a cluster have in common.

# %%
display(*readouts.figure(artifacts, "prototypes.png"))

# %%
for note in dataset_notes.asides(dataset, "prototypes"):
    display(Markdown(note))

# %% [markdown]
# ### Sampling from a cluster
#
# The paper notes that its framework "allows sampling from a specific cluster if used in
# a variational setting". With `variational=true` the encoder also gives a log-variance,
# so every image has a Gaussian around its latent vector, and phase 1 adds a KL term
# (`kl_weight`, see [Method](../book/method.md)). A cluster's region is then the mixture
# of its training images' Gaussians: each new image below draws a latent vector from one
# member's Gaussian and decodes it with its soft assignment (`cae.method.sampling`).

# %%
note, samples = readouts.variational_samples(runs_root, dataset)
display(Markdown(note))
if samples is not None:
    display(Image(filename=samples))

# %% [markdown]
# ## The three protocols on validation and test
#
# (a) `stat`: nearest prototype, cluster mapped to its majority label; (b) `knn`: 5
# nearest neighbours; (c) `lin`: linear probe on 20% of the training labels. AUC uses
# each protocol's class scores (one-vs-rest macro for more than two classes); NMI and
# ARI compare the clusters with the labels (protocol (a) only).

# %%
Markdown(dataset_notes.averaging(info))

# %%
readouts.metrics_view(artifacts.metrics, ["CAE (ours)"], info.positive_class)

# %% [markdown]
# Read each number against the floors of its split and protocol: the majority class
# (always the training set's most frequent label) and the same protocols on raw pixels
# instead of the latent space (more floors and the ResNet-18 baselines in
# [Baselines and floors](03_baselines.ipynb)).

# %%
readouts.metrics_view(artifacts.metrics, ["majority class", "raw pixels"], info.positive_class)

# %% [markdown]
# ## Compared with the paper
#
# Generated from every finished run of this dataset under `runs_root`
# (`cae.report.verdicts`): per profile, how many of the paper's numbers for it its mean
# over seeds meets (none for a dataset the paper did not use), and on each split where our
# latent beats, ties or loses to raw pixels, the untrained encoder and the majority class
# (the last named only where it is not beaten), judged by the difference paired by seed
# and its 95% interval. A floor that ties or wins is a finding: it says the trained
# encoder adds nothing there that the pixels, or the same network untrained, do not
# already give. "Hungarian (k = classes)" is told the number of classes; protocol (a) is
# not.

# %%
Markdown(verdicts.dataset_findings(runs_root, dataset))

# %% [markdown]
# ## Summary
#
# - The same pipeline as for MNIST, unchanged, on a medical dataset named by one
#   parameter; the words about the dataset come from its own metadata.
# - Validation and test can differ in class balance, so every result comes in pairs, and
#   accuracy must be read against each split's floors.
# - The decoded prototypes are the method's answer to "what does this cluster look like?".
#
# **Next:** how the medical run of the book compares with the ResNet-18 baselines, in
# [Baselines and floors](03_baselines.ipynb); all seeds beside the paper's numbers in
# [Table 1](04_table1.ipynb); every dataset with committed runs side by side in the
# [Gallery](05_gallery.ipynb).
