"""Finance's work: the workbench's reads, actions on discrepancies, reports, exports."""
