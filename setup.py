"""Packages for setuptools (the rest is pyproject.toml): the top-level `schemas/` and `cards/`
folders travel in the wheel as package data, `kcorpus/schemas` and `kcorpus/cards`, where
kcorpus.schema.data_dir finds them when no checkout is around."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["kcorpus*", "flows*"]), "kcorpus.schemas", "kcorpus.cards"],
      package_dir={"kcorpus.schemas": "schemas", "kcorpus.cards": "cards"})
