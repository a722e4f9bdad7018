"""Layer 10, report: everything a reader sees across properties, from metric rows and outcomes only: tables with the
paper's values (`tables`), Table 1, the headline summary and board, the paper comparison and consistency checks
(`summary`), a card per model (`cards`), paired tests between models (`pairs`)."""
