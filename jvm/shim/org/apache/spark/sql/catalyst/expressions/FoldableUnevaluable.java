/*
 * Compatibility shim for running the Sedona 1.8.0 JAR built for Spark 4.0 on Spark 4.1.
 *
 * Spark 4.0 had a Scala trait `FoldableUnevaluable`; Spark 4.1 removed it. Five Sedona
 * statistics expressions (ST_DBSCAN, ST_LocalOutlierFactor, ST_GLocal and the two
 * distance-band columns) mix it in, and SedonaContext.create() loads every expression class,
 * so without this interface the session fails with NoClassDefFoundError. The static methods
 * are the forwarders the Scala 2.13 compiler calls from classes that mix in a trait.
 * rmf_spark never calls those five functions; if someone does, they fail with a clear message.
 *
 * Drop this file once a Sedona JAR built for Spark 4.1 (sedona-spark-shaded-4.1_2.13) can be
 * resolved: see rmf_spark/jvm.py.
 */
package org.apache.spark.sql.catalyst.expressions;

import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.codegen.CodegenContext;
import org.apache.spark.sql.catalyst.expressions.codegen.ExprCode;

public interface FoldableUnevaluable {
  static void $init$(FoldableUnevaluable self) {}

  static boolean foldable$(FoldableUnevaluable self) {
    return true;
  }

  static InternalRow eval$default$1$(FoldableUnevaluable self) {
    return null;
  }

  static Object eval$(FoldableUnevaluable self, InternalRow row) {
    throw new UnsupportedOperationException(
        "rmf_spark: " + self + " is not supported with the Sedona 1.8.0 JAR on Spark 4.1");
  }

  static ExprCode doGenCode$(FoldableUnevaluable self, CodegenContext ctx, ExprCode ev) {
    throw new UnsupportedOperationException(
        "rmf_spark: " + self + " is not supported with the Sedona 1.8.0 JAR on Spark 4.1");
  }
}
