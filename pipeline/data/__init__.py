"""Reading, checking and splitting labelled statements, and the files the stages pass on."""
