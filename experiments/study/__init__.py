"""Running N jobs resumably: runner, job functions, executors, result store, atomic writes,
progress and study folders (manifest). Knows no command."""
