"""A test-only app for worker processes: stalls a service after it has done its work, so a test can SIGKILL the
worker at the worst moment (work committed, task still RUNNING). Never installed outside tests/workers/."""
