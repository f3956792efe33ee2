from __future__ import annotations

from rmf_spark.config import SparkSettings
from rmf_spark.session import spark_settings


def test_spark_settings_local_defaults_scale_with_cores():
    s = spark_settings(SparkSettings(master="local[3]"))
    assert s["spark.sql.shuffle.partitions"] == "6"
    assert "sedona" in s["spark.sql.extensions"].lower()
    assert "DeltaSparkSessionExtension" in s["spark.sql.extensions"]
    assert s["spark.kryo.registrator"].endswith("SedonaKryoRegistrator")
    assert "sedona-spark-shaded" in s["spark.driver.extraClassPath"]
    assert s["spark.driver.host"] == "127.0.0.1"


def test_spark_settings_profile_conf_wins_and_cluster_has_no_local_paths():
    s = spark_settings(
        SparkSettings(
            master="yarn", shuffle_partitions=0, conf={"spark.sql.adaptive.enabled": False}
        )
    )
    assert s["spark.sql.adaptive.enabled"] == "false"
    assert s["spark.sql.shuffle.partitions"] == "200"
    assert "spark.driver.extraClassPath" not in s
    assert "spark.driver.host" not in s


def test_session_has_sedona_delta_and_kryo(spark):
    assert spark.version.startswith("4.1")
    assert spark.conf.get("spark.serializer").endswith("KryoSerializer")
    wkt = spark.sql("SELECT ST_AsText(ST_Buffer(ST_Point(0.0, 0.0), 1.0)) AS w").first()["w"]
    assert wkt.startswith("POLYGON")
    assert spark.conf.get("spark.sql.catalog.spark_catalog").endswith("DeltaCatalog")


def test_session_transforms_wgs84_to_laea_europe(spark):
    # Madrid (lon -3.7037, lat 40.4168) in EPSG:3035 is near E 3.16e6, N 2.03e6.
    row = spark.sql(
        "SELECT ST_X(g) AS x, ST_Y(g) AS y FROM (SELECT ST_Transform(ST_Point(-3.7037, 40.4168),"
        " 'EPSG:4326', 'EPSG:3035') AS g)"
    ).first()
    assert 3.14e6 < row.x < 3.18e6
    assert 2.01e6 < row.y < 2.05e6
