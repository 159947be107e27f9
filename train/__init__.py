"""Two-stage training of the selector with accelerate: feature cache, stage 1 (projector), stage 2 (LoRA)."""
