# %% [markdown]
# # MNIST: a proof of concept
#
# ## Overview
#
# Before turning to chest radiographs, the paper checks its method on MNIST, where the
# ten digit classes are visually distinct and well understood. This chapter shows one
# run of the contrastive autoencoder on MNIST, end to end: the data, the two training
# phases, the choice of the number of clusters, the latent space, the reconstructions,
# the decoded cluster prototypes, and how well the clusters match the digit labels under
# the three evaluation protocols. MNIST has no validation split, so every number is on
# the 10,000-image test split.
#
# **Prerequisites.** The method chapter ([Method](../book/method.md)) explains the
# networks, losses and protocols used here. To run this notebook you need the `cae`
# package (`pip install -e .[book]`) and, unless the run's artifacts already exist under
# `runs_root`, the MNIST files (see [Reproducibility](../book/reproducibility.md)) and
# time to train: seconds with `profile="smoke"`, hours on a CPU with `"paper"`.
#
# Every setting is a parameter below (papermill can override them). With
# `retrain=False` a finished run with the same configuration is read back instead of
# trained again. The book shows the `paper`-profile run in
# `artifacts/mnist-paper-seed0/`, as the provenance note under the first cell says.

# %% tags=["parameters"]
dataset = "mnist"
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
from pathlib import Path

from IPython.display import Image, Markdown, display

from cae.infra.runs import RunArtifacts, composition_ks
from cae.report import ablation, readouts, verdicts

# %% [markdown]
# One call trains (or reads back) the run: both training phases, the elbow search, the
# three protocols, the floors, the ResNet-18 baselines and the figures. Its output files
# (configuration, history, metrics, provenance, figures) are in the run directory.

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
# The first eight test images of each digit: 28 × 28 grey-scale, one row per class.

# %%
display(*readouts.figure(artifacts, "montage.png"))

# %% [markdown]
# ## Training
#
# The upper panel shows the per-epoch losses on a log scale. In phase 1 the encoder,
# projector and decoder minimise the NT-Xent contrastive loss plus 0.1 × the
# reconstruction error of both views (`nt_xent`, `mse`, `total`). At the dashed line the
# encoder is frozen, KMeans fixes the prototypes, and phase 2 trains only the
# conditional decoder (`phase2_mse`). The lower panel is the learning rate: a linear
# warm-up, then cosine annealing.

# %%
display(*readouts.figure(artifacts, "training.png"))

# %% [markdown]
# ## How many clusters?
#
# After phase 1, KMeans is fitted on the normalized latent vectors of the training set
# for every k in the configured range, and the elbow of the inertia curve picks k. The
# elbow need not land on 10: it finds where adding clusters stops paying, which is a
# property of the latent space, not of the labels.

# %%
Markdown(f"The elbow chose **k = {artifacts.elbow['k']}** clusters "
         f"(searched k = {artifacts.elbow['ks'][0]} to {artifacts.elbow['ks'][-1]}).")

# %%
display(*readouts.figure(artifacts, "elbow.png"))

# %% [markdown]
# Protocol (a) at every k of the search, not only the elbow's: the accuracy after
# mapping each cluster to its majority digit, and NMI and ARI, which compare the
# clusters with the labels without a mapping. More clusters make each cluster purer, so
# the mapped accuracy climbs with k whatever the clusters mean; NMI and ARI do not
# reward that. The dashed line is the elbow's k.

# %%
display(*readouts.figure(artifacts, "mapping_vs_k_test.png"))

# %% [markdown]
# ## The latent space
#
# A t-SNE map of the test images' latent vectors, drawn three times: coloured by (A) the
# true digit, (B) the nearest prototype (the cluster), and (C) the digit each cluster
# maps to under protocol (a). Stars are the prototypes. Where (A) and (C) agree, the
# unsupervised clusters recover the digits; t-SNE keeps neighbourhoods, not distances,
# so the sizes of and gaps between groups mean little.

# %%
display(*readouts.figure(artifacts, "tsne_test.png"))

# %% [markdown]
# ## Reconstructions and decoded prototypes
#
# Eight test images (top) and their reconstructions by the conditional decoder (bottom),
# which sees each image's latent vector and its soft assignment to the prototypes.

# %%
display(*readouts.figure(artifacts, "reconstructions.png"))

# %% [markdown]
# Each prototype decoded into an image: the direction of the cluster centre, scaled to
# the typical latent norm, passed through the conditional decoder with its own
# assignment. The title gives the digit the cluster maps to. This is what makes the
# clusters inspectable: a clinician could look at a prototype rather than at a centroid
# in 128 dimensions.

# %%
display(*readouts.figure(artifacts, "prototypes.png"))

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
note, samples = readouts.variational_samples(runs_root, "mnist")
display(Markdown(note))
if samples is not None:
    display(Image(filename=samples))

# %% [markdown]
# ## The three protocols
#
# The frozen encoder read out three ways on the test split: (a) `stat`, each test image
# takes the label its nearest prototype's cluster maps to; (b) `knn`, a 5-nearest-
# neighbour vote in the latent space; (c) `lin`, a linear probe trained on 20% of the
# training labels. `k` is the number of clusters; NMI (normalized mutual information)
# and ARI (adjusted Rand index) compare the clusters themselves with the labels, so only
# protocol (a) has them. Precision is given support-weighted and macro-averaged, recall
# macro-averaged (its support-weighted average always equals accuracy); AUC comes from
# each protocol's class scores, one-vs-rest over the ten digits.

# %%
readouts.metrics_view(artifacts.metrics, ["CAE (ours)"])

# %% [markdown]
# The same table for the floors every result should beat (majority class, raw pixels,
# an untrained encoder) and the ResNet-18 baselines is in
# [Baselines and floors](03_baselines.ipynb) for PneumoniaMNIST and in
# [Table 1](04_table1.ipynb) for both datasets, where each of our rows is set against
# the paper's value and the raw-pixel floor of the same protocol.
#
# ## Where this run falls short of the paper

# %%
Markdown(verdicts.paper_beside_run(artifacts))

# %% [markdown]
# Protocols (b) and (c) come close to the paper's values. Protocol (a) does not come
# close to its value, and the figures above show why. The elbow picks fewer clusters than
# there are digits, so several digits share a cluster and at most k of the ten can
# ever be predicted. Even forced to k = 10, in the plot of protocol (a) against k, the
# mapped accuracy and NMI stay far from a digit-per-cluster partition. The latent space
# keeps each image near others of its digit, which is what kNN and a linear probe need,
# but it does not form ten compact groups that KMeans on the normalized latents can
# find. KMeans on the raw pixels, read out the same way, does better than our latents
# (see the targets table in the Table 1 chapter), yet also far below the paper's value.
#
# ### Which digits share a cluster
#
# Each row is one cluster, each column a digit, each cell the share of the cluster's
# test images that show that digit: first at the elbow's k, then with KMeans forced to
# k = 10 on the same latents. A clean partition would have one dark cell per row.

# %%
for k in composition_ks(artifacts.elbow, n_classes=10):
    display(*readouts.figure(artifacts, f"composition_test_k{k}.png"))

# %% [markdown]
# ### Testing one cause: the horizontal flip
#
# The paper's augmentations include a horizontal flip. A mirrored chest radiograph is
# still a chest radiograph; a mirrored digit is not always the same digit: a mirrored 2
# resembles a 5, and a mirrored 3 is no digit at all. The contrastive loss pulls the two
# views of an image together, so with flips it asks the encoder to put a digit and its
# mirror image in the same place. To test this, two runs with the `quick` schedule
# (20 epochs, to fit a CPU session; the paper schedule takes an hour per run here)
# differ only in `hflip`, on the same seed. They were made with
# `cae reproduce --dataset mnist --profile quick --seed 0 --run-dir
# artifacts/augmentation/mnist-quick-seed0` and the same command with
# `--set hflip=false --no-floors --no-baselines --run-dir
# artifacts/augmentation/mnist-quick-noflip-seed0`.

# %%
augmentation_root = Path(runs_root) / "augmentation"
flip_runs = [augmentation_root / f"{dataset}-quick-seed{seed}",
             augmentation_root / f"{dataset}-quick-noflip-seed{seed}"]
if all((run_dir / "provenance.json").is_file() for run_dir in flip_runs):
    flipped, unflipped = (RunArtifacts.read(run_dir) for run_dir in flip_runs)
    display(ablation.single_change_table(flipped, unflipped, "test"))
    display(ablation.single_change_curves(flipped, unflipped, "test"))
    for run in (flipped, unflipped):
        display(Markdown(f"`{run.run_dir.name}`, k = 10:"),
                *readouts.figure(run, "composition_test_k10.png"))
else:
    display(Markdown(f"The two runs of the flip test are not under `{augmentation_root}`: "
                     "this execution shows none."))

# %% [markdown]
# What the test shows (one seed, the 20-epoch schedule, so a first measurement, not a
# settled one):
#
# - **Flips cost kNN and the linear probe accuracy** (the table above). Without them
#   both reach, on the test split after 20 epochs, more than the 100-epoch runs with
#   flips in Table 1 reach.
# - **Flips merge the 5s with the 3s.** With flips, no cluster at k = 10 holds mostly
#   5s; without them one does, and NMI at k = 10 rises (the table's NMI line).
# - **Flips are not why protocol (a) misses the paper's value.** Without them the elbow
#   still picks 4 clusters and mapped accuracy barely moves. Even at k = 10 it stays far
#   below the paper's value (the table's line at k = 10): the 8s and 9s still share a
#   cluster, another pair merges instead (2 and 3), and one or two clusters hold a mix
#   of every digit. KMeans on these latents does not
#   find one group per digit with or without flips.
#
# So for digits the flip is a poor augmentation and the book's MNIST rows pay for it;
# the paper prescribes it, so Table 1 keeps it. The gap in protocol (a) comes from the
# shape of the latent space under KMeans and the elbow, which this test does not change.
#
# ## Closing the gap: choices made on val, and a learned clustering head
#
# The flip test above read the test split, so it cannot choose settings. The method
# chapter's val screen ({ref}`val-screen`) repeats the question on a val split held out
# of MNIST's training images, with the rules fixed first, and adds the choices that only
# touch the clustering: the elbow's k range and score, KMeans restarts, clustering $h$
# or $z$, and the clustering head the paper proposes as future work. Its winners form
# the `validated` profile, whose rows, with Hungarian accuracy and the head, are in the
# Table 1 chapter ({ref}`validated-results`). The short answer: the local structure
# that kNN already measures was there all along, and a head trained to keep neighbours
# together (SCAN) turns it into clusters that KMeans on the same latents does not find;
# protocol (a) stays short of the paper because the elbow stops at fewer clusters than
# the digits need, where KMeans still merges some of them. The numbers, generated from
# the runs, are below.
#
# (mnist-compared)=
# ## Compared with the paper
#
# Generated from every finished MNIST run under `runs_root` (`cae.report.verdicts`): per
# profile, how many of the paper's MNIST numbers its mean over seeds meets, and on each
# split where our latent beats, ties or loses to raw pixels, the untrained encoder and the
# majority class (the last named only where it is not beaten), judged by the difference
# paired by seed and its 95% interval. "Hungarian (k = classes)" is told the number of
# classes; protocol (a) is not.

# %%
Markdown(verdicts.dataset_findings(runs_root, dataset))

# %% [markdown]
# ## Summary
#
# - One `reproduce` call gives the whole MNIST experiment; this page only reads its files.
# - The elbow picks the number of clusters from the latent space alone; protocol (a)
#   then needs labels only to name the clusters. On MNIST it picks too few, and protocol
#   (a) falls far short of the paper.
# - The paper's horizontal flips cost kNN and the linear probe on digits; dropping them
#   does not close the gap in protocol (a); a learned clustering head on the frozen
#   encoder, told the number of classes, does ({ref}`mnist-compared`).
# - Decoded prototypes turn each cluster into an image that can be inspected.
#
# **Next:** the same pipeline on chest radiographs,
# [PneumoniaMNIST](02_pneumoniamnist.ipynb).
