"""The applications behind the `aiayn` commands: training a run (`train`), loading one (`runs`),
and using it (`use`: evaluate, generate, translate, classify, attention, average)."""
