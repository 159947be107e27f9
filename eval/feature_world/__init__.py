"""The feature-space question task: a selector trained on synthetic frame features in seconds,
where reading the question is the only way to find the asked event (`task.py`), and the study of
which settings make a from-scratch selector read it (`study.py`, docs/question-awareness.md)."""
