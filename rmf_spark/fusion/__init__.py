"""Fusion stage (planned): the statistics of several MNOs combined with the statistical
office's register. :mod:`rmf_spark.fusion.secure` holds its secure-aggregation core, an MPyC
program in which every MNO and the office keep their inputs to themselves and only the office
learns the released cells (``docs/fusion.md``)."""
