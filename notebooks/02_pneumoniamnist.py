# %% [markdown]
# # PneumoniaMNIST: clusters in chest radiographs
#
# ## Overview
#
# The medical test of the method: 28 × 28 paediatric chest radiographs from MedMNIST v2,
# labelled normal or pneumonia. The contrastive autoencoder is trained without labels;
# labels are used only afterwards, to ask whether its clusters match the expert classes.
# This chapter shows the PneumoniaMNIST figures of the paper (its Figures 2 and 4: the
# latent space with its prototypes, and the decoded prototypes) and the three protocols
# on both the validation and the test split. The two splits have different class
# proportions, computed from the data below, which is why the paper reports both.
#
# **Prerequisites.** [Method](../book/method.md) for the model and protocols;
# [MNIST](01_mnist.ipynb) walks through the same figures on digits. Running this
# notebook needs the `cae` package and `pneumoniamnist.npz` (see
# [Reproducibility](../book/reproducibility.md)); unless the run's artifacts exist under
# `runs_root`, it trains: seconds with `profile="smoke"`, hours on a CPU with `"paper"`.
# The book shows the committed `paper`-profile run in
# `artifacts/pneumoniamnist-paper-seed0/`.

# %% tags=["parameters"]
dataset = "pneumoniamnist"
data_dir = None  # None: $CAE_DATA_DIR, else the libraries' default caches
profile = "paper"  # smoke (seconds), quick (minutes), paper (the paper's schedule)
seed = 0
device = "auto"  # auto, cpu, cuda
retrain = False  # True: train again even if a finished run exists
runs_root = "../artifacts"  # run directories <dataset>-<profile>-seed<seed> live here
allow_untrained_weights = True  # offline: run the ResNet-18 baselines untrained (labelled so)

# %%
from IPython.display import Image, Markdown, display

from cae import make_config, report
from cae.pipeline import load, reproduce
from cae.runs import composition_ks, run_dir_for

# %% [markdown]
# Train (or read back) the run, with its protocols, floors, baselines and figures:

# %% tags=["nbval-ignore-output"]
cfg = make_config(profile, dataset=dataset, seed=seed, data_dir=data_dir, device=device,
                  progress=False, allow_untrained_weights=allow_untrained_weights)
artifacts = reproduce(cfg, run_dir_for(cfg, runs_root), retrain=retrain)
figures_dir = artifacts.run_dir / "figures"

# %%
Markdown(report.provenance_note(artifacts))

# %% [markdown]
# ## The data
#
# Images per class in each split, counted from the data file (the training split is the
# run's training set, a random subset in the `smoke` profile). Pneumonia is the majority
# class everywhere, but less so in the test split than in the validation split, so a
# classifier that favours "pneumonia" scores higher on validation: a result on one split
# alone can mislead, and the majority-class floor differs between them.

# %%
data = load(cfg)
report.class_proportions(data)

# %% [markdown]
# The first eight test images of each class. At 28 × 28 pixels the radiographs keep the
# gross shape of the thorax and the density of the lung fields, not fine texture.

# %%
Image(filename=figures_dir / "montage.png")

# %% [markdown]
# ## Training and the number of clusters
#
# Losses of both phases (phase 2, after the dashed line, trains only the conditional
# decoder) and the learning-rate schedule:

# %%
Image(filename=figures_dir / "training.png")

# %% [markdown]
# KMeans on the frozen latent space for every k in the range, and the elbow's pick. The
# elbow may find more clusters than the two expert classes: the method is meant to
# refine them (finer patient groups), and protocol (a) maps several clusters to one label.

# %%
Markdown(f"The elbow chose **k = {artifacts.elbow['k']}** clusters "
         f"(searched k = {artifacts.elbow['ks'][0]} to {artifacts.elbow['ks'][-1]}).")

# %%
Image(filename=figures_dir / "elbow.png")

# %% [markdown]
# How much the choice of k matters for protocol (a): the same mapping for every k of the
# range. Mapped accuracy can only gain from more, purer clusters, whatever they mean;
# NMI and ARI measure agreement with the labels without that reward. The dashed line is
# the elbow's choice. (A notebook cell can show this for any run: the numbers are in
# the run's `mapping_vs_k.json`.)

# %%
for split in data.eval_splits:
    display(Markdown(f"**{split} split**"), Image(filename=figures_dir / f"mapping_vs_k_{split}.png"))

# %% [markdown]
# What the clusters hold: for each cluster, the share of its test images with each
# expert label, at the elbow's k and at k = 2. A cluster of one label is a finer group
# of that diagnosis; a mixed one is where clustering without labels and the diagnosis
# disagree.

# %%
for k in composition_ks(artifacts.elbow, data.n_classes):
    display(Image(filename=figures_dir / f"composition_test_k{k}.png"))

# %% [markdown]
# ## The latent space, on each evaluation split
#
# t-SNE maps of the latent vectors coloured by (A) the expert label, (B) the cluster,
# (C) the label each cluster maps to; stars are the prototypes. Compare (A) with (C):
# where they agree, clustering without labels recovered the diagnosis. t-SNE preserves
# neighbourhoods, not distances or cluster sizes.

# %%
for split in data.eval_splits:
    display(Markdown(f"**{split} split**"), Image(filename=figures_dir / f"tsne_{split}.png"))

# %% [markdown]
# ## Reconstructions and decoded prototypes
#
# Test images (top) and their reconstructions by the conditional decoder (bottom):

# %%
Image(filename=figures_dir / "reconstructions.png")

# %% [markdown]
# Each cluster's prototype decoded into an image, titled with the label it maps to. These
# are what a clinician would inspect to judge what the patients of a cluster have in
# common; at this resolution expect lung-field density and thorax shape, not lesions.

# %%
Image(filename=figures_dir / "prototypes.png")

# %% [markdown]
# ## The three protocols on validation and test
#
# (a) `stat`: nearest prototype, cluster mapped to its majority label; (b) `knn`: 5
# nearest neighbours; (c) `lin`: linear probe on 20% of the training labels. The paper
# does not say how it averaged precision and recall, so both are shown macro-averaged
# and for the positive class (pneumonia) alone, and precision also support-weighted
# (weighted recall always equals accuracy). AUC uses each protocol's class scores; NMI
# and ARI compare the clusters with the labels (protocol (a) only). Read each number
# against the majority-class floor of its split (the share of pneumonia in the table
# above), in [Baselines and floors](03_baselines.ipynb).

# %%
report.metrics_view(artifacts.metrics, ["CAE (ours)"])

# %% [markdown]
# ## Summary
#
# - The same pipeline as for MNIST, unchanged, on chest radiographs.
# - Validation and test differ in class balance, so every result comes in pairs, and
#   accuracy must be read against each split's majority share.
# - The decoded prototypes are the method's answer to "what does this cluster look like?".
#
# **Next:** how far above the floors and the ResNet-18 baselines this is, in
# [Baselines and floors](03_baselines.ipynb); all seeds beside the paper's numbers in
# [Table 1](04_table1.ipynb).
