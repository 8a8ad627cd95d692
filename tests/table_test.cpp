// CSV and SQLite loaders.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>

#include "dptrain/table.hpp"
#include "test_util.hpp"

namespace dptrain {
namespace {

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
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{2, 0}));
  EXPECT_EQ(d.classes, 3u);
  EXPECT_EQ(d.x, (std::vector<float>{1, 3, 4, 5}));
  o.label = "0";
  EXPECT_EQ(parse_csv("2;1;3\n0;4;5\n", "t.csv", o).labels, (std::vector<std::int32_t>{2, 0}));
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
  EXPECT_NE(csv_error("1,2,1.5\n").find("label 1.5 is not a class index"), std::string::npos);
  EXPECT_NE(csv_error("1,2,-1\n").find("not a class index"), std::string::npos);
  TableOptions o;
  o.label = "target";
  EXPECT_NE(csv_error("a,b\n1,2\n", o).find("no column named 'target' (columns: a, b)"),
            std::string::npos);
  EXPECT_NE(csv_error("1,2\n", o).find("no header row"), std::string::npos);
  o.label = "7";
  EXPECT_NE(csv_error("1,2\n", o).find("index 7 is outside"), std::string::npos);
  EXPECT_THROW(load_csv("/nonexistent/x.csv", {}), Error);
}

TEST(Csv, UnlabelledForPrediction) {
  TableOptions o;
  o.label = "none";
  const Dataset d = parse_csv("1,2\n3,4\n", "p.csv", o);
  EXPECT_EQ(d.features, 2u);
  EXPECT_FALSE(d.labelled());
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
                     "CREATE TABLE holes (a REAL, y INTEGER); INSERT INTO holes VALUES (NULL, 1);",
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
}

TEST_F(SqliteTest, ClearErrorsAndReadOnly) {
  TableOptions o;
  o.table = "holes";
  EXPECT_NE(error_of(o).find("row 1, column 'a': NULL value"), std::string::npos);
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

}  // namespace
}  // namespace dptrain
