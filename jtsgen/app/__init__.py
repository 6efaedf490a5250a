"""The own-data workflow (``jtsgen fit / generate / evaluate / report``): :mod:`.dataset`
reads and windows the user's files, :mod:`.api` trains, generates and evaluates."""

MODELS = ("cgats", "rcgan", "ddpm")  # what ``jtsgen fit --model`` trains
LABELS_FROM = ("label-model", "train")  # where ``jtsgen generate`` takes label vectors
