"""The sweep's own process: start (`sweeper`, `plan`, `study_opening`, `sweep_preflight`), run (`orchestrator`,
`left_running`, `tracker`, `progress`) and end (`sweep_report`, `results`, `study_plots`, `best_model`); and plain
multiruns (`multirun`)."""
