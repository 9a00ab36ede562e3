# %% [markdown]
# # Table 1: the paper's results, reproduced
#
# ## Overview
#
# The paper's Table 1 gives accuracy, precision and recall for its model under three
# protocols and for two ResNet-18 baselines, on MNIST and on the PneumoniaMNIST
# validation and test splits, from single runs. This page puts every one of its cells
# beside ours: the mean over all finished runs (seeds) of the chosen profile, a 95%
# interval, the number of seeds, and the difference from the paper. Nothing here is
# retyped: the paper's values live in one constant (`cae.table1.PAPER_TABLE1`) and ours
# are read from the runs' `metrics.json` files.
#
# **Prerequisites.** The chapters on [MNIST](01_mnist.ipynb),
# [PneumoniaMNIST](02_pneumoniamnist.ipynb) and [Baselines](03_baselines.ipynb) explain
# each row; this page only needs finished runs under `runs_root`, one directory per
# dataset and seed (`cae reproduce --profile paper --seed N --run-dir
# artifacts/<dataset>-paper-seed<N>`).
#
# **How to read it.**
#
# - *Interval*: with two or more seeds, a Student-t 95% confidence interval of the mean
#   over seeds. With one seed there is no spread to estimate (a bootstrap over test
#   images would need the predictions, which the metrics files do not hold): the single
#   value is shown with `(n=1)`.
# - *Averaging*: the paper does not say how it averaged precision and recall over
#   classes, and its rows mix conventions (some have recall equal to accuracy, as
#   support-weighted averaging gives; others do not). We compare its precision and recall
#   with our **support-weighted** averages (`precision_weighted`, `recall_weighted`;
#   weighted recall always equals accuracy) and show the **macro** average and, for the
#   binary PneumoniaMNIST, the **positive-class** (pneumonia) value beside them. Where the
#   paper's recall exceeds its accuracy, its number is probably the positive-class recall.
# - *Mapping*: "Ours (stat/kNN/lin)" are our `CAE (ours)` rows under protocols (a), (b),
#   (c); "ResNet18" is the `transfer` baseline, "Feature+KM" the ResNet-18 features with
#   KMeans; "MNIST" is its test split.

# %% tags=["parameters"]
profile = "paper"  # the profile whose runs are collected (all seeds)
runs_root = "../artifacts"  # folder of run directories <dataset>-<profile>-seed<seed>

# %%
from IPython.display import Markdown

from cae import table1

# %% [markdown]
# ## The runs
#
# Every finished run of the profile under `runs_root`, with where and how it ran:

# %%
Markdown(table1.runs_note(runs_root, profile))

# %%
table1.runs_overview(runs_root, profile)

# %% [markdown]
# ## Table 1, cell by cell
#
# `paper` is the paper's value as printed; `ours as` names the metric compared with it;
# `macro` and `positive class` are the other averagings of the same precision or
# recall, for reference. A baseline run on untrained ResNet-18 weights is marked
# `(UNTRAINED weights)` in the model name: its row is not the paper's baseline.

# %%
rows = table1.collect_runs(runs_root, profile)
summary = table1.summarise(rows)
table1.comparison_table(table1.compare_with_paper(summary))

# %% [markdown]
# The averaging behind every metric name used on this page:

# %%
table1.averaging_legend()

# %% [markdown]
# ## What the paper does not report
#
# The AUC of every model and protocol, the agreement of the clusters with the labels
# (normalized mutual information and adjusted Rand index, protocol (a) and Feature+KM
# only), and the three floors on every metric: mean over seeds with the same intervals.

# %%
table1.beyond_paper(summary)

# %% [markdown]
# ## Summary
#
# - Each of the paper's 45 numbers is shown next to our mean, its interval and the
#   number of seeds, with the averaging we compared it with stated.
# - The floors and the AUC/NMI/ARI columns give the context the paper's table lacks.
#
# **Next:** [Reproducibility](../book/reproducibility.md) explains how to rerun every
# run behind this table and rebuild the book.
