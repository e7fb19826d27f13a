"""Package layout that ``pyproject.toml`` cannot express: data directories kept at the top of the
repository (where operators and other tools look for them) installed inside the package, so an
installed ``nezlam`` finds them through ``importlib.resources`` (``streams/resources.py``)."""

from setuptools import find_packages, setup

# Importable name inside the package -> directory in this repository.
DATA_PACKAGES = {
    "streams.schemas": "schemas",
    "streams.shipped_config": "config",
    "streams.deploy": "deploy",
}

setup(
    packages=[*find_packages(include=["streams", "streams.*"]), *DATA_PACKAGES],
    package_dir=DATA_PACKAGES,
    package_data={
        "streams": ["py.typed", "stack/maven/pom.xml"],
        "streams.schemas": ["*.json", "migrations/*.sql"],
        "streams.shipped_config": ["*.yaml"],
        "streams.deploy": ["prometheus/*.yml", "alertmanager/*.yml", "alertmanager/templates/*"],
    },
    include_package_data=False,
)
