"""Builders of the synthetic device images; ``testdata/images/build.py`` drives them."""
