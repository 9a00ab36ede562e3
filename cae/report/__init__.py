"""Reading finished runs into the book: Table 1, the paper's numbers, glance, gallery, figures, ablation."""
