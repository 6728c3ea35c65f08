"""The augmentation panel of an ICL-vs-FT report: `ledger` judges each stored augmentation file against its world,
item by item; `panel` turns the ledgers and the scores into the report's tables, figure and findings."""
