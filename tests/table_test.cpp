// CSV and SQLite loaders.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>

#include "dptrain/table.hpp"
#include "test_util.hpp"

namespace dptrain {
namespace {

using test::gzip_member;

std::string csv_error(std::string_view text, TableOptions o = {}) {
  try {
    parse_csv(text, "t.csv", o);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Csv, HeaderDetectedLabelLastByDefault) {
  const Dataset d = parse_csv("a,b,label\n1,2,0\n3.5,-4e1,1\n", "t.csv", {});
  EXPECT_EQ(d.rows, 2u);
  EXPECT_EQ(d.features, 2u);
  EXPECT_EQ(d.classes, 2u);
  EXPECT_EQ(d.x, (std::vector<float>{1, 2, 3.5f, -40}));
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{0, 1}));
}

TEST(Csv, LabelByNameOrIndexQuotedFieldsAndDelimiter) {
  TableOptions o;
  o.label = "y";
  o.delimiter = ';';
  const Dataset d = parse_csv("y;\"f 1\";f2\n2;1;\"3\"\n0;4;5\n", "t.csv", o);
  // Labels 2 and 0 are not the indices 0..C-1: two classes named "0" and "2" (Note [Schema]).
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{1, 0}));
  EXPECT_EQ(d.classes, 2u);
  EXPECT_EQ(d.schema.class_names, (std::vector<std::string>{"0", "2"}));
  EXPECT_EQ(d.x, (std::vector<float>{1, 3, 4, 5}));
  o.label = "0";
  EXPECT_EQ(parse_csv("2;1;3\n0;4;5\n", "t.csv", o).labels, (std::vector<std::int32_t>{1, 0}));
  o.label = "-1";
  o.classification = false;  // regression target
  const Dataset r = parse_csv("2;1;3.25\n0;4;5\n", "t.csv", o);
  EXPECT_EQ(r.target_width, 1u);
  EXPECT_EQ(r.targets, (std::vector<float>{3.25f, 5}));
}

TEST(Csv, ErrorsNameLineAndColumn) {
  EXPECT_NE(csv_error("").find("t.csv: is empty"), std::string::npos);
  EXPECT_NE(csv_error("a,b,c\n").find("header but no data rows"), std::string::npos);
  EXPECT_NE(csv_error("1,2,0\n1,2\n").find("line 2 has 2 fields, expected 3"), std::string::npos);
  EXPECT_NE(csv_error("a,b,c\n1,2,0\n1,abc,1\n").find("line 3, column 2: 'abc' is not a number"),
            std::string::npos);
  EXPECT_NE(csv_error("1,nan,0\n").find("line 1, column 2: 'nan' is NaN"), std::string::npos);
  EXPECT_NE(csv_error("1,inf,0\n").find("infinite"), std::string::npos);
  EXPECT_NE(csv_error("1,,0\n").find("column 2: empty value"), std::string::npos);
  EXPECT_NE(csv_error("1,2,1.5\n").find("line 1, column 3: label 1.5 is not a class"),
            std::string::npos);
  EXPECT_NE(csv_error("1,2,0\n3,4, \n").find("line 2, column 3: empty value"), std::string::npos);
  TableOptions o;
  o.label = "target";
  EXPECT_NE(csv_error("a,b\n1,2\n", o).find("no column named 'target' (columns: a, b)"),
            std::string::npos);
  EXPECT_NE(csv_error("1,2\n", o).find("no header row"), std::string::npos);
  o.label = "7";
  EXPECT_NE(csv_error("1,2\n", o).find("index 7 is outside"), std::string::npos);
  EXPECT_THROW(load_csv("/nonexistent/x.csv", {}), Error);
}

TEST(Csv, QuoteNeverClosedIsRefusedWhereItOpened) {
  // Note [Unclosed quote]: libcsv would end the field at the end of the text, and the rows after
  // the quote would be one label ("cat\n5,6,dog\n7,8,dog").
  const std::string never = ": a quoted field opens here and its quote is never closed";
  auto refused_at = [&](std::string_view text, const std::string& line) {
    const std::string e = csv_error(text);
    return e.find("t.csv: line " + line + never) != std::string::npos ? "" : e;
  };
  EXPECT_EQ(refused_at("a,b,y\n1,2,cat\n3,4,\"cat\n5,6,dog\n7,8,dog\n", "3"), "");
  EXPECT_EQ(refused_at("a,b,y\r\n1,2,cat\r\n3,\"4,cat\r\n5,6,dog\r\n", "3"), "");  // middle
  EXPECT_EQ(refused_at("a,\"b,y\n1,2,cat\n3,4,dog\n", "1"), "");                   // header
  EXPECT_EQ(refused_at("a,b,y\n1,2,\"cat", "2"), "");  // no newline at the end
  // After a quoted field that spans lines and closes: the line of the quote still open.
  EXPECT_EQ(refused_at("a,b,y\n1,2,\"c\nat\"\n3,4,\"dog\n", "4"), "");
  EXPECT_EQ(refused_at("\"a\nb\",c,\"y\n1,2,3\n", "2"), "");  // closes and reopens on line 2
  // Closed quotes stay valid, also at the very end and across lines.
  EXPECT_EQ(parse_csv("a,b,y\n1,2,\"cat\"\n3,4,\"dog\"", "t.csv", {}).rows, 2u);
  EXPECT_EQ(parse_csv("a,b,y\n1,2,\"c\nat\"\n3,4,dog\n", "t.csv", {}).rows, 2u);
}

TEST(Csv, LabelColumnErrorsCarryTheirTopic) {
  // The front end turns the topic into a hint (the CLI: check --label).
  auto topic_of = [](std::string_view text, const std::string& label) {
    TableOptions o;
    o.label = label;
    try {
      parse_csv(text, "t.csv", o);
    } catch (const Error& e) {
      return e.topic();
    }
    return ErrorTopic::none;
  };
  EXPECT_EQ(topic_of("a,b\n1,2\n", "target"), ErrorTopic::label_column);  // no such name
  EXPECT_EQ(topic_of("1,2\n", "target"), ErrorTopic::label_column);       // no header
  EXPECT_EQ(topic_of("1,2\n", "7"), ErrorTopic::label_column);            // index outside
  EXPECT_EQ(topic_of("y,y\n1,0\n", "y"), ErrorTopic::label_column);       // ambiguous
}

TEST(Csv, ByteOrderMarkIsDropped) {
  // The mark is not part of the first header name, and does not make a numeric row a header.
  TableOptions o;
  o.label = "a";
  const Dataset named = parse_csv(
      "\xEF\xBB\xBF"
      "a,b,c\n1,2,3\n4,5,6\n",
      "t.csv", o);
  EXPECT_EQ(named.labels, (std::vector<std::int32_t>{0, 1}));  // classes "1" and "4"
  EXPECT_EQ(named.schema.class_names, (std::vector<std::string>{"1", "4"}));
  EXPECT_EQ(named.schema.feature_names, (std::vector<std::string>{"b", "c"}));
  const Dataset plain = parse_csv(
      "\xEF\xBB\xBF"
      "1,2,0\n3,4,1\n",
      "t.csv", {});
  EXPECT_EQ(plain.rows, 2u);
  EXPECT_EQ(plain.x, (std::vector<float>{1, 2, 3, 4}));
}

TEST(Csv, LineNumbersForLfCrLfAndCrEndings) {
  for (const std::string eol : {"\n", "\r\n", "\r"}) {
    const std::string bad = "a,b,c" + eol + "1,2,0" + eol + "1,x,1" + eol + "4,5,1" + eol;
    EXPECT_NE(csv_error(bad).find("t.csv: line 3, column 2: 'x' is not a number"),
              std::string::npos)
        << csv_error(bad);
    const std::string ragged = "1,2,0" + eol + "3,4,1" + eol + "5,6" + eol;
    EXPECT_NE(csv_error(ragged).find("line 3 has 2 fields, expected 3 (as on line 1)"),
              std::string::npos)
        << csv_error(ragged);
    EXPECT_EQ(parse_csv("a,b,c" + eol + "1,2,0" + eol + "3,4,1", "t.csv", {}).rows, 2u);
  }
}

TEST(Csv, GzipIsReadOtherBinaryIsNamed) {
  const Dataset d = parse_csv(gzip_member("a,b,y\n1,2,0\n3,4,1\n"), "t.csv.gz", {});
  EXPECT_EQ(d.rows, 2u);
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{0, 1}));
  const std::string gz = gzip_member("a,b,y\n1,2,0\n");
  EXPECT_NE(csv_error(gz.substr(0, gz.size() - 6)).find("cannot read 't.csv': truncated gzip"),
            std::string::npos);
  using namespace std::string_literals;
  EXPECT_NE(csv_error("a,b\n1,\0\n"s).find("'t.csv' is binary (a NUL byte on line 2), not CSV"),
            std::string::npos);
  EXPECT_NE(csv_error("\xFD"
                      "7zXZ\0\0\x04"s)
                .find("'t.csv' is xz-compressed, not CSV text"),
            std::string::npos);
  EXPECT_NE(csv_error("\x28\xB5\x2F\xFD\x04"s).find("zstd-compressed"), std::string::npos);
  EXPECT_NE(csv_error("BZh91AY&SYxx"s).find("bzip2-compressed"), std::string::npos);
  EXPECT_NE(csv_error("\xFF\xFE"
                      "a\0,\0"s)
                .find("UTF-16"),
            std::string::npos);
}

TEST(Csv, DuplicatedLabelNameIsRefused) {
  TableOptions o;
  o.label = "y";
  try {
    parse_csv("y,x,y\n1,2,0\n", "t.csv", o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'y' is ambiguous: columns 0 and 2 (0-based)"),
              std::string::npos)
        << e.what();
    EXPECT_EQ(e.topic(), ErrorTopic::label_column);
  }
  o.label = "2";  // an index picks one of them
  EXPECT_EQ(parse_csv("y,x,y\n1,2,0\n", "t.csv", o).labels, (std::vector<std::int32_t>{0}));
}

TEST(Csv, UnlabelledForPrediction) {
  TableOptions o;
  o.label = "none";
  const Dataset d = parse_csv("1,2\n3,4\n", "p.csv", o);
  EXPECT_EQ(d.features, 2u);
  EXPECT_FALSE(d.labelled());
}

// ---- class labels as users write them (Note [Schema]) ---------------------------------------

TEST(CsvLabels, TextLabelsMapToSortedClassesAndTheSchema) {
  const Dataset d = parse_csv(
      "a,b,species\n1,2,virginica\n3,4,setosa\n5,6,versicolor\n7,8,setosa\n", "t.csv", {});
  EXPECT_EQ(d.classes, 3u);
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{2, 0, 1, 0}));
  EXPECT_EQ(d.schema.class_names, (std::vector<std::string>{"setosa", "versicolor", "virginica"}));
  EXPECT_EQ(d.schema.feature_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(d.schema.label_column, "species");
  EXPECT_EQ(d.schema.task, Task::classification);
}

TEST(CsvLabels, NumericLabelsMapByValue) {
  // "1" and "1.0" are one class; 1, 2, 3 are not the indices 0..2, so they are names.
  const Dataset d = parse_csv("5,1\n6,2.0\n7,1.0\n8,3\n", "t.csv", {});
  EXPECT_EQ(d.classes, 3u);
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{0, 1, 0, 2}));
  EXPECT_EQ(d.schema.class_names, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(d.schema.label_column, "1");  // no header: the index
  EXPECT_TRUE(d.schema.feature_names.empty());
  const Dataset n = parse_csv("5,-1\n6,1\n", "t.csv", {});
  EXPECT_EQ(n.schema.class_names, (std::vector<std::string>{"-1", "1"}));
  EXPECT_EQ(n.labels, (std::vector<std::int32_t>{0, 1}));
}

TEST(CsvLabels, ClassIndicesKeepTodaysBehaviour) {
  const Dataset d = parse_csv("5,0\n6,2\n7,1.0\n", "t.csv", {});
  EXPECT_EQ(d.classes, 3u);
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{0, 2, 1}));
  EXPECT_TRUE(d.schema.class_names.empty());
  // Binary 0/1 labels stay indices with one value absent (a slice of a binary set).
  const Dataset b = parse_csv("5,1\n6,1\n", "t.csv", {});
  EXPECT_EQ(b.classes, 2u);
  EXPECT_EQ(b.labels, (std::vector<std::int32_t>{1, 1}));
  EXPECT_TRUE(b.schema.class_names.empty());
}

TEST(CsvLabels, RealValuedLabelsAreRegressionTargets) {
  TableOptions o;
  try {
    parse_csv("1,2,0.5\n", "t.csv", o);
    FAIL() << "a real-valued class label was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.topic(), ErrorTopic::label_kind);  // the CLI adds: use --loss mse
  }
  o.classification = false;
  const Dataset r = parse_csv("x,y\n1,0.5\n", "t.csv", o);
  EXPECT_EQ(r.schema.task, Task::regression);
  EXPECT_EQ(r.schema.label_column, "y");
}

TEST(CsvLabels, TestDataMapThroughTheModelsClasses) {
  TableOptions o;
  o.model_classes = 3;
  o.model_schema = DataSchema{};
  o.model_schema->class_names = {"setosa", "versicolor", "virginica"};
  // Only two of the three classes here: still 3 classes, in the model's order.
  const Dataset d = parse_csv("a,species\n1,virginica\n2,versicolor\n", "t.csv", o);
  EXPECT_EQ(d.classes, 3u);
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{2, 1}));
  EXPECT_EQ(d.schema.class_names, o.model_schema->class_names);
  const std::string e = csv_error("a,species\n1,setosa\n2,daisy\n", o);
  EXPECT_NE(e.find("t.csv: line 3, column 2: label 'daisy' is not one of the model's 3 classes "
                   "(setosa, versicolor, virginica)"),
            std::string::npos)
      << e;
  o.model_schema->class_names.clear();  // a model trained on class indices 0..2
  EXPECT_EQ(parse_csv("1,2\n2,0\n", "t.csv", o).labels, (std::vector<std::int32_t>{2, 0}));
  EXPECT_NE(
      csv_error("1,2\n2,3\n", o).find("line 2, column 2: label '3' is not one of the model's"),
      std::string::npos);
}

TEST(CsvLabels, ModelsLabelColumnByNameAndUnlabelledHeaders) {
  TableOptions o;
  o.model_classes = 2;
  o.model_schema = DataSchema{};
  o.model_schema->feature_names = {"a", "b"};
  o.model_schema->label_column = "y";
  // The label column is found by the model's name for it, wherever it is.
  const Dataset d = parse_csv("y,b,a\n1,2,3\n0,4,5\n", "t.csv", o);
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{1, 0}));
  EXPECT_EQ(d.schema.feature_names, (std::vector<std::string>{"b", "a"}));
  // A header of exactly the model's features is unlabelled data.
  const Dataset u = parse_csv("b,a\n2,3\n", "t.csv", o);
  EXPECT_FALSE(u.labelled());
  EXPECT_EQ(u.features, 2u);
}

TEST(Csv, SkipRowsAndCommentLines) {
  // scikit-learn's iris.csv starts with a counts line, which is not a header.
  TableOptions o;
  o.skip_rows = 1;
  const Dataset d = parse_csv(
      "150,4,setosa,versicolor,virginica\n# a comment\n5.1,3.5,1.4,0.2,0\n  #indented\n"
      "4.9,3,1.4,0.2,1\n",
      "iris.csv", o);
  EXPECT_EQ(d.rows, 2u);
  EXPECT_EQ(d.features, 4u);
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{0, 1}));
  // Line numbers still count the skipped lines; '#' inside a quoted field is no comment.
  EXPECT_NE(csv_error("skip\n1,2,0\n# c\n1,x,1\n", o).find("line 4, column 2"), std::string::npos);
  const Dataset q = parse_csv("x,y\n1,\"two\n#lines\"\n2,b\n", "t.csv", {});
  EXPECT_EQ(q.schema.class_names, (std::vector<std::string>{"b", "two\n#lines"}));
}

TEST(CsvLabels, LabelsFromASeparateFile) {
  TableOptions none;
  none.label = "none";
  Dataset d = parse_csv("1,2\n3,4\n5,6\n", "x.csv", none);
  attach_labels(d, "species\nsetosa\n# a comment\n\"virginica\"\nsetosa\n", "y.csv", {});
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{0, 1, 0}));
  EXPECT_EQ(d.schema.class_names, (std::vector<std::string>{"setosa", "virginica"}));
  EXPECT_EQ(d.schema.label_column, "species");
  Dataset n = parse_csv("1,2\n3,4\n", "x.csv", none);
  attach_labels(n, "1\n0\n", "y.csv", {});  // no header: as many lines as rows
  EXPECT_EQ(n.labels, (std::vector<std::int32_t>{1, 0}));
  Dataset r = parse_csv("1,2\n3,4\n", "x.csv", none);
  TableOptions reg;
  reg.classification = false;
  attach_labels(r, "y\n0.5\n1.5\n", "y.csv", reg);
  EXPECT_EQ(r.targets, (std::vector<float>{0.5f, 1.5f}));
  Dataset bad = parse_csv("1,2\n3,4\n", "x.csv", none);
  try {
    attach_labels(bad, "a\nb\nc\nd\n", "y.csv", {});
    FAIL() << "4 labels for 2 rows accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("y.csv: has 4 labels for the 2 rows"), std::string::npos)
        << e.what();
  }
}

// Note [Labels header]: a numeric first line is a label (one label too many is an error, not a
// header), and a line with the delimiter outside quotes is two columns, refused.
TEST(CsvLabels, NumericFirstLineIsNeverAHeaderAndOneLabelPerLine) {
  TableOptions none;
  none.label = "none";
  auto error_of = [&](const std::string& labels, const TableOptions& o) {
    Dataset d = parse_csv("1,2\n3,4\n", "x.csv", none);
    try {
      attach_labels(d, labels, "y.csv", o);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(error_of("1\n0\n1\n", {})
                .find("y.csv: has 3 labels for the 2 rows of data 'x.csv' "
                      "(its first line, '1', is a number, so it is a label"),
            std::string::npos)
      << error_of("1\n0\n1\n", {});
  EXPECT_NE(error_of("y\n0,1\n1,0\n", {})
                .find("y.csv: line 2 has 2 fields ('0,1'); a labels "
                      "file holds one label per line"),
            std::string::npos)
      << error_of("y\n0,1\n1,0\n", {});
  TableOptions yes;
  yes.header = TableOptions::Header::yes;
  Dataset d = parse_csv("1,2\n3,4\n", "x.csv", none);
  attach_labels(d, "7\n0\n1\n", "y.csv", yes);  // --header yes: a numeric header is a header
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{0, 1}));
  Dataset q = parse_csv("1,2\n3,4\n", "x.csv", none);
  attach_labels(q, "\"a,b\"\n\"c\"\n", "y.csv", {});  // quoted: one label with a comma
  EXPECT_EQ(q.schema.class_names, (std::vector<std::string>{"a,b", "c"}));
}

TEST(Csv, SharedFeatureNamesAndNamesThatAreNotUtf8AreRefused) {
  auto error_of = [](const std::string& text) {
    try {
      parse_csv(text, "t.csv", {});
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(error_of("a,a,b,y\n1,2,3,0\n4,5,6,1\n"),
            "t.csv: column name 'a' is used by columns 0 and 1 (0-based); feature names must be "
            "unique, since a trained model matches its columns by name: rename all but one");
  EXPECT_NE(error_of("a,b,a,y\n1,2,3,0\n4,5,6,1\n").find("'a' is used by columns 0 and 2 "),
            std::string::npos);
  EXPECT_EQ(error_of("a,b,y,y\n1,2,0,0\n4,5,1,1\n").substr(0, 8), "accepted");  // one is the label
  EXPECT_NE(error_of("a,caf\xE9,y\n1,2,0\n")
                .find("t.csv: line 1, column 2: column name "
                      "'caf\\xE9' is not valid UTF-8"),
            std::string::npos);
  EXPECT_NE(error_of("a,y\n1,dog\n2,caf\xE9\n").find("t.csv: line 3, column 2: label "),
            std::string::npos);
  EXPECT_EQ(error_of("a,caf\xC3\xA9,y\n1,2,caf\xC3\xA9\n3,4,dog\n"), "accepted");
}

class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("dptrain_sqlite_" +
              std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + ".db"))
                .string();
    std::filesystem::remove(path_);
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(db,
                     "CREATE TABLE patients (glucose REAL, bmi REAL, outcome INTEGER);"
                     "INSERT INTO patients VALUES (148, 33.6, 1), (85, 26.6, 0), (183, '23.3', 1);"
                     "CREATE TABLE holes (a REAL, y INTEGER); INSERT INTO holes VALUES (NULL, 1);"
                     "CREATE TABLE blobs (a, y); INSERT INTO blobs VALUES (1, 0), (x'0102', 1);"
                     "CREATE TABLE texts (a, y); INSERT INTO texts VALUES ('', 1);",
                     nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_close(db);
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::string error_of(TableOptions o, const std::string& path = "") {
    try {
      load_sqlite(path.empty() ? path_ : path, o);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  }
  std::string path_;
};

TEST_F(SqliteTest, TableAndQuery) {
  TableOptions o;
  o.table = "patients";
  o.label = "outcome";
  const Dataset d = load_sqlite(path_, o);
  EXPECT_EQ(d.rows, 3u);
  EXPECT_EQ(d.x, (std::vector<float>{148, 33.6f, 85, 26.6f, 183, 23.3f}));
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{1, 0, 1}));
  TableOptions q;
  q.query = "SELECT bmi, outcome FROM patients WHERE glucose > 100";
  EXPECT_EQ(load_sqlite(path_, q).rows, 2u);
  EXPECT_EQ(d.schema.feature_names, (std::vector<std::string>{"glucose", "bmi"}));
  EXPECT_EQ(d.schema.label_column, "outcome");
}

TEST_F(SqliteTest, TextAndNumericClassLabels) {
  TableOptions o;
  o.query = "SELECT glucose, CASE outcome WHEN 1 THEN 'sick' ELSE 'well' END AS y FROM patients";
  const Dataset d = load_sqlite(path_, o);
  EXPECT_EQ(d.schema.class_names, (std::vector<std::string>{"sick", "well"}));
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{0, 1, 0}));
  o.query = "SELECT glucose, outcome + 1.0 AS y FROM patients";  // 2.0, 1.0: by value
  EXPECT_EQ(load_sqlite(path_, o).schema.class_names, (std::vector<std::string>{"1", "2"}));
}

TEST_F(SqliteTest, ClearErrorsAndReadOnly) {
  TableOptions o;
  o.table = "holes";
  EXPECT_NE(error_of(o).find("row 1, column 1 ('a'): NULL, not a number"), std::string::npos);
  o.table = "nope";
  EXPECT_NE(error_of(o).find("no such table"), std::string::npos);
  TableOptions q;
  q.query = "SELEC oops";
  EXPECT_NE(error_of(q).find("syntax error"), std::string::npos);
  q.query = "DELETE FROM patients";  // read-only: cannot change the database
  EXPECT_NE(error_of(q).find("only read-only SELECT"), std::string::npos);
  const std::string not_db = path_ + ".txt";
  { std::ofstream(not_db) << "this is not a database, just text that is long enough........"; }
  TableOptions t;
  t.table = "patients";
  EXPECT_NE(error_of(t, not_db).find("not a database"), std::string::npos);
  std::filesystem::remove(not_db);
  EXPECT_NE(error_of(t, "/nonexistent/db.sqlite").find("cannot open"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists("/nonexistent/db.sqlite"));
}

TEST_F(SqliteTest, CellsThatAreNotNumbersNameTheirType) {
  TableOptions o;
  o.table = "blobs";
  EXPECT_NE(error_of(o).find("sqlite:" + path_ + ": row 2, column 1 ('a'): a BLOB (2 bytes), not"),
            std::string::npos)
      << error_of(o);
  o.table = "texts";
  EXPECT_NE(error_of(o).find("row 1, column 1 ('a'): the text '' is not a number"),
            std::string::npos)
      << error_of(o);
}

TEST_F(SqliteTest, ExactlyOneStatement) {
  TableOptions q;
  q.query = "SELECT bmi, outcome FROM patients; DELETE FROM patients";
  EXPECT_NE(error_of(q).find("the query holds more than one statement ('DELETE FROM patients'"),
            std::string::npos)
      << error_of(q);
  q.query = "SELECT bmi, outcome FROM patients; SELECT 1, 2";
  EXPECT_NE(error_of(q).find("more than one statement"), std::string::npos);
  // Semicolons, whitespace and comments after the one statement are fine.
  q.query = "SELECT bmi, outcome FROM patients; ;\n -- all rows\n /* done */ ; -- end";
  EXPECT_EQ(load_sqlite(path_, q).rows, 3u);
}

TEST_F(SqliteTest, DuplicatedLabelNameIsRefused) {
  TableOptions q;
  q.query = "SELECT outcome, bmi, outcome FROM patients";
  q.label = "outcome";
  EXPECT_NE(error_of(q).find("'outcome' is ambiguous: columns 0 and 2"), std::string::npos)
      << error_of(q);
}

TEST_F(SqliteTest, WalDatabaseReadWithoutCreatingFiles) {
  const std::string wal = path_ + ".wal.db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(wal + suffix);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(wal.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "PRAGMA journal_mode=WAL; CREATE TABLE t (x REAL, y INTEGER);"
                         "INSERT INTO t VALUES (1, 0), (2, 1);",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);  // the last connection removes -wal and -shm
  ASSERT_FALSE(std::filesystem::exists(wal + "-wal"));
  TableOptions o;
  o.table = "t";
  EXPECT_EQ(load_sqlite(wal, o).rows, 2u);
  EXPECT_FALSE(std::filesystem::exists(wal + "-wal"));
  EXPECT_FALSE(std::filesystem::exists(wal + "-shm"));
  // With a writer open, rows still in its -wal file are read too.
  ASSERT_EQ(sqlite3_open(wal.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA wal_autocheckpoint=0; INSERT INTO t VALUES (3, 1);", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  EXPECT_EQ(load_sqlite(wal, o).rows, 3u);
  sqlite3_close(db);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(wal + suffix);
}

}  // namespace
}  // namespace dptrain
