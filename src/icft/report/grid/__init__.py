"""The ICL-vs-FT study's report: `results` reads the study folder into scores per (world, mode, split),
`findings` decides the paper's findings, `where` answers where the knowledge should go per split, `answer` writes
the opening lines, `tables`, `figures` and `html` write its page."""
