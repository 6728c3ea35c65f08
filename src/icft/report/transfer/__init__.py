"""The transfer study's report (FT vs FTICL across tasks): `results` reads the study folder into score matrices,
`findings` decides the comparisons, `page` writes its HTML and Markdown page."""
