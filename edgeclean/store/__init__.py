"""What a run keeps on disk: the checkpoint, the output, the report. Nothing here imports a stage."""
