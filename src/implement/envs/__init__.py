"""ALFWorld environments: the contract (`base`), game files (`games`), the command grammar (`commands`),
the cached TextWorld engine (`engine`) and the env on it (`alfworld`).

Nothing is imported here: import from the submodules, so that the light ones (`base`, `games`,
`commands`) load without TextWorld.
"""
