"""Fusion stage: the statistics of several MNOs combined with the statistical office's register
(``docs/fusion.md``).

* :mod:`~rmf_spark.fusion.signatures` and :mod:`~rmf_spark.fusion.export_runner`: what each MNO
  exports, inside its premises (``rmf fusion export``): linkage signatures of its residents,
  keyed roamer hashes, residents per zone;
* :mod:`~rmf_spark.fusion.matching`: duplicate matching of two exports (MinHash, LSH);
* :mod:`~rmf_spark.fusion.secure`: the secure aggregation, an MPyC program in which every MNO
  and the office keep their inputs to themselves and only the office learns the released
  cells;
* :mod:`~rmf_spark.fusion.runner`: the fusion job (``rmf fusion run``, ``jobs/fusion.py``),
  which reads only the exports and the register.
"""
