# beyond-imagenet: compare vision models on the behaviours ImageNet top-1 hides
# (reproduces Vishniakov, Shen, Liu, ICML 2024; arXiv 2311.09215).
#   snakemake prepare_data --cores 4                           # download and verify the paper's data
#   snakemake all --cores 8 --resources gpu=1                  # the paper (config/config.yaml)
#   snakemake all --cores 2 --configfile config/demo.yaml      # the demo world (or: make demo)
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

# Jobs import the package from the environment (`make` installs it editable into .venv;
# envs/ installs it for --sdm conda); the Snakefile itself also works from a bare checkout.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))

# A --configfile given on the command line replaces the paper config instead of merging into it
# (a merge would leave the paper's models in a demo run).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


from beyond_imagenet.config import needs, schema
from beyond_imagenet.data import prepare
from beyond_imagenet.pipeline import plan, targets

schema.validate_config(config)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/extract.smk"
include: "workflow/rules/properties.smk"


rule all:
    input:
        targets.final_targets(config),
    default_target: True
