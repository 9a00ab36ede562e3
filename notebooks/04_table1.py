# %% [markdown]
# # Table 1: the paper's results, reproduced
#
# ## Overview
#
# Every cell of the paper's Table 1 (accuracy, precision, recall; five models; MNIST and
# the PneumoniaMNIST validation and test splits) beside ours: the mean over all
# finished runs (seeds) of one profile, its 95% interval, the number of seeds, and the
# difference from the paper. Nothing is retyped: the paper's values live in one
# constant, `cae.report.paper.PAPER_TABLE1`, and ours are read from the runs' `metrics.json`.
#
# **Prerequisites.** [MNIST](01_mnist.ipynb), [PneumoniaMNIST](02_pneumoniamnist.ipynb)
# and [Baselines and floors](03_baselines.ipynb) explain the rows; this page needs only
# the finished runs under `runs_root`.

# %% tags=["parameters"]
profile = "paper"  # the profile whose runs are collected (all seeds)
validated_profile = "validated"  # the profile with the open choices set on val
runs_root = "../artifacts"  # folder of run directories <dataset>-<profile>-seed<seed>

# %%
from cae.errors import brief_in_notebooks
from cae.notebook_params import check_parameters

brief_in_notebooks()  # a refusal shows as its message, not as a traceback
check_parameters(In)  # a parameter this notebook does not declare stops here, naming it

# %%
from pathlib import Path

from IPython.display import Markdown, display

from cae.report import ablation, glance, paper, stats, table1

# %% [markdown]
# ## Table 1 at a glance
#
# The paper's table in its own shape, our numbers in it: each cell reads our mean over
# the seeds, its 95% interval, and the paper's value in parentheses; blue where our mean
# reaches the paper's value, red where it falls short. Precision and recall are our
# support-weighted averages (the section below shows the other averagings).
# `[UNTRAINED]` marks a baseline run on untrained ResNet-18 weights, which is not the
# paper's baseline.

# %%
rows = table1.collect_runs(runs_root, profile)
summary = stats.summarise(rows)
comparison = table1.compare_with_paper(summary)
glance.styled_grid(comparison)

# %% [markdown]
# Every accuracy cell as a line: our mean and its 95% interval, the paper's value (black
# bar) and the strongest simple floor, raw pixels read out by the same protocol on the
# same split (grey cross; the transfer baseline has none). A dot right of the bar meets
# the paper; a dot left of the cross does no better than the pixels.

# %%
glance.accuracy_forest(glance.accuracy_cells(comparison, summary))

# %% [markdown]
# ## Table 1, cell by cell
#
# `paper` as printed; `ours`, the mean over `n` seeds with its 95% interval; `macro`
# and `positive` (the pneumonia class), other averagings of the same precision or
# recall. `[UNTRAINED]` marks a baseline run on untrained ResNet-18 weights, which is
# not the paper's baseline.

# %%
table1.comparison_table(comparison)

# %% [markdown]
# ## Targets met and missed
#
# Each of our accuracy rows against the paper's value and against the strongest simple
# floor, raw pixels read out by the same protocol on the same split (see
# [Baselines and floors](03_baselines.ipynb)). `missed by` and `beaten by` are
# differences of means over the `n` seeds; compare them with the intervals above.

# %%
table1.accuracy_verdicts(comparison, summary)

# %% [markdown]
# ## How to read it
#
# - **Rows.** "Ours (stat)", "Ours (kNN)" and "Ours (lin)" are our `CAE (ours)` rows
#   under protocols (a) cluster-to-label mapping, (b) 5-nearest neighbours and (c)
#   linear probe; "ResNet18" is the supervised transfer baseline and "Feature+KM" the
#   ResNet-18 features clustered by KMeans; "MNIST" is its test split.
# - **Intervals.** With three or more seeds, a Student-t 95% confidence interval of the
#   mean over seeds (`CI over` reads *seeds (t)*): it reflects training randomness. With
#   fewer seeds, a t-interval says little (with two it is 12.7 standard errors wide), so
#   the interval is the 95% percentile bootstrap over the scored images, 1,000
#   resamples, averaged over the seeds (*images (bootstrap)*): it reflects how much the
#   number would move on another test set of the same size, not another training run.
#   Runs that predate the bootstrap bounds fall back to the t-interval.
# - **Averaging.** The paper does not say how it averaged precision and recall over
#   classes, and its rows mix conventions: some have recall equal to accuracy, as
#   support-weighted averaging gives, others do not. We compare its precision and recall
#   with our **support-weighted** averages (weighted recall always equals accuracy) and
#   show the **macro** average and, for the binary PneumoniaMNIST, the **positive-class**
#   value beside them. Where the paper's recall exceeds its accuracy (Ours (lin) on
#   both PneumoniaMNIST splits), its number may be the positive-class recall.
#
# The averaging behind every metric name on this page:

# %%
table1.averaging_legend()

# %% [markdown]
# ## The runs
#
# Every finished run of the profile under `runs_root`, the data files they read, and
# where and how long each ran. {ref}`rerun-rows` gives the one command behind each row.

# %%
Markdown(table1.runs_note(runs_root, profile))

# %%
table1.runs_overview(runs_root, profile)

# %% [markdown]
# ## What the paper does not report
#
# The AUC of every row of Table 1 (from each protocol's class scores), and the agreement
# of the clusters with the labels, normalized mutual information and adjusted Rand index,
# where a row has clusters (protocol (a) and Feature+KM). Cells read mean ± half-width
# of the 95% interval over `n` seeds, or the single value when n = 1.

# %%
table1.beyond_paper(summary)

# %% [markdown]
# The floors of [Baselines and floors](03_baselines.ipynb) on every split: what always
# predicting the majority class, the raw pixels, and an untrained encoder achieve.

# %%
table1.floors_table(summary)

# %% [markdown]
# (validated-results)=
# ## The validated profile: the open choices set on val
#
# The rows above reproduce the paper as faithfully as its text allows. The `validated`
# profile keeps the paper's schedule and networks and sets the choices the paper leaves
# open from the val screen of the method chapter ({ref}`val-screen`): no horizontal
# flip on either dataset (on MNIST a mirrored digit is another symbol), the elbow searched
# over k ≤ 30 on MNIST, one KMeans restart (restarts changed nothing on val), and the
# paper's proposed clustering head learned on the frozen encoder (SCAN on MNIST, N2D on
# PneumoniaMNIST). The test split was read only for these tables. Below: the runs, Table 1
# at a glance for them, each accuracy cell against the paper and the raw-pixel floor (the
# head's protocol (a) as a line of its own), Hungarian accuracy, and what changed from the
# paper-faithful runs.
# The raw-pixel floors of these runs were computed once per dataset (seed 0) and shared,
# so they carry no interval.

# %%
if table1.has_runs(runs_root, validated_profile):
    validated = stats.summarise(table1.collect_runs(runs_root, validated_profile))
    validated_comparison = table1.compare_with_paper(validated)
    display(Markdown(table1.runs_note(runs_root, validated_profile)))
    display(glance.styled_grid(validated_comparison, uuid="validated-grid"))
    display(table1.accuracy_verdicts(validated_comparison, validated))
else:
    display(Markdown(f"No finished `{validated_profile}`-profile run is in the runs folder yet: "
                     "the profile is defined and its runs are being made (see the method "
                     "chapter's val screen for what the screen measured)."))

# %% [markdown]
# **Hungarian accuracy** (KMeans with one cluster per class, matched one-to-one to the
# classes on the training labels) cannot be raised by adding clusters, unlike protocol
# (a); the clustering head is scored the same way. The paper-faithful runs above predate
# this protocol (their checkpoints are not committed, so they cannot be re-scored).

# %%
if table1.has_runs(runs_root, validated_profile):
    display(table1.hungarian_table(validated))

# %% [markdown]
# **What moved which number**: the mean accuracy of the paper-faithful runs (`before`)
# and of the validated runs (`after`) per protocol. On MNIST, kNN and the linear probe
# move with the flip (the encoder is the only thing they read); protocol (a) moves with
# the elbow's range; the clustering head is new. (MNIST's paper-faithful runs have no
# val split, so their val cells are empty.)

# %%
if table1.has_runs(runs_root, validated_profile):
    display(table1.profile_change(summary, validated))

# %% [markdown]
# **What the validated rows say** (test split; mean and 95% interval over 2 MNIST and 5
# PneumoniaMNIST seeds, from the tables above):
#
# - **MNIST, the representation.** kNN (0.983) and the linear probe (0.981) meet the
#   paper's 0.98 and now beat raw pixels (0.973 and 0.903); dropping the flip is what
#   moved them (+0.011 and +0.009 over the paper-faithful runs).
# - **MNIST, protocol (a).** The wider elbow range lifts it from 0.364 to 0.821
#   [0.679, 0.962], well above raw pixels (0.604), but the mean misses the paper's 0.90.
#   The measured reason: the elbow stops at 11 and 10 clusters, where KMeans on the
#   latents still holds one cluster that mixes 4, 8 and 9 (seed 0) or 8, 9 and 2
#   (seed 1), with those digits' other images split over further clusters (the runs'
#   composition figures); the same KMeans at k = 10 scores 0.799 Hungarian accuracy.
#   Protocol (a) would pass 0.90 only near 20 clusters (`mapping_vs_k.json`), which the
#   elbow does not choose.
# - **MNIST, the clustering head.** SCAN on the frozen encoder, with one cluster per
#   digit and no labels, reaches 0.970 [0.948, 0.992], both as protocol (a) and as
#   Hungarian accuracy: above the 0.90 target and the 0.95 stretch target.
# - **PneumoniaMNIST.** The validated choices barely move it (kNN +0.007, linear
#   +0.001, protocol (a) -0.011 against the paper-faithful runs): five of the six paper
#   cells are met, and protocol (a) on test, 0.729 [0.709, 0.749], misses 0.73 by 0.001,
#   inside its interval. kNN beats raw pixels on test (0.857 against 0.824); the linear
#   probe, 0.864 [0.855, 0.872], stays just below raw pixels' 0.872, and on val raw
#   pixels beat every protocol. The learned head does not help here: with two clusters
#   the N2D head's clusters are unrelated to the labels (NMI about 0.01), the same finding
#   as the val screen's: pneumonia and normal are not the two main groups of this latent
#   space. Clustering the projection $z$ instead of $h$, which the quick screen favoured,
#   failed its check on the paper schedule on val (protocol (a) fell to the majority
#   class), so the validated rows cluster $h$ (method chapter).

# %% [markdown]
# (paired-verdicts)=
# ## Paired verdicts: our latent against each floor
#
# Does training the encoder help? For every profile, dataset, split and protocol: our
# accuracy minus each floor's, seed by seed, the mean of those differences and its 95%
# t-interval over the seeds (`cae.report.paired`), against raw pixels and the untrained encoder
# (the majority class is in the floors table above). The untrained encoder is the same network
# with the same seed, never trained; raw pixels and the majority class depend on the
# data alone and were computed once, so their one value is paired with every seed.
# **beats**: the whole interval is above zero; **loses**: below zero; **ties**: the
# interval holds zero, so these seeds cannot tell the two apart (not a proof that they
# are equal). The val rows of PneumoniaMNIST are the official val split, which the
# validated profile's choices were read from, so they are not an unbiased estimate; the
# selection screen now makes choices on a split held out of train instead (`scripts/run_selection_screen.sh`, `python -m cae.report.selection_screen`).

# %%
from cae.report import paired

for name in (profile, validated_profile):
    if table1.has_runs(runs_root, name):
        differences = paired.paired_differences(table1.collect_runs(runs_root, name))
        for title, table in paired.verdict_tables(differences).items():
            display(Markdown(f"**{name}** profile, {title}"))
            display(table)

# %% [markdown]
# (ablation-results)=
# ## Ablation: which loss term does the work?
#
# Phase 1 trains the encoder with NT-Xent plus 0.1 × the reconstruction error. The
# ablation drops one term at a time, on PneumoniaMNIST with the paper profile and
# otherwise identical settings and seeds: the **autoencoder alone**
# (`contrastive_weight = 0`, no contrastive term) and **contrastive alone** (`alpha = 0`,
# no reconstruction term), beside **both**, the runs of the table above restricted to
# the same seeds, and the **variational** encoder (both terms plus a KL term with weight
# `kl_weight` = 2.5e-6, `variational = true`), which measures what the paper's "sampling
# from a specific cluster" costs the representation. (Only the variational runs, made
# after Hungarian accuracy was added, carry its rows.) Each line is the encoder under
# one protocol, mean ± half-width of the 95% interval over `n` seeds; NMI and ARI exist for protocol (a) only. The runs live in
# `artifacts/ablation/`; rerun them with
# `SEEDS="0 1 2" DATA_DIR=<data> bash scripts/run_ablation.sh`.

# %%
ablation_root = Path(runs_root) / "ablation"
if ablation.ablation_runs(ablation_root):
    ablated = ablation.ablation_rows(ablation_root, runs_root, profile)
    display(Markdown(ablation.seeds_note(ablated)))
    display(ablation.ablation_table(ablated))
else:
    display(Markdown(ablation.missing_note(ablation_root)))

# %% [markdown]
# ## Summary
#
# - Table 1 at a glance shows, in the paper's own layout, which of its 45 numbers our
#   runs meet; the forest plot puts each accuracy beside the paper and the pixel floor.
# - Each of the paper's 45 numbers stands next to our mean, its interval and its number
#   of seeds, with the averaging it was compared with.
# - AUC, cluster agreement and the floors give the context the paper's table lacks.
#
# **Next:** [Reproducibility](../book/reproducibility.md) explains how to rerun every
# run behind this table and rebuild the book.
