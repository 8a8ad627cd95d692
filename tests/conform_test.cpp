// Matching data columns to a model's by name (Note [Column matching] in data.hpp).
#include <gtest/gtest.h>

#include "dptrain/data.hpp"
#include "dptrain/error.hpp"

namespace dptrain {
namespace {

using Names = std::vector<std::string>;

Dataset named(const Names& names, std::vector<float> x) {
  Dataset d;
  d.source = "t.csv";
  d.features = names.size();
  d.rows = x.size() / names.size();
  d.x = std::move(x);
  d.schema.feature_names = names;
  return d;
}

DataSchema model(const Names& names) {
  DataSchema s;
  s.feature_names = names;
  return s;
}

TEST(Conform, ReordersColumnsByNameAndSaysSo) {
  const Dataset d = named({"c", "a", "b"}, {3, 1, 2, 30, 10, 20});
  std::string note;
  const Dataset m = conform_to_schema(d, model({"a", "b", "c"}), &note);
  EXPECT_EQ(m.x, (std::vector<float>{1, 2, 3, 10, 20, 30}));
  EXPECT_EQ(m.schema.feature_names, (Names{"a", "b", "c"}));
  EXPECT_NE(note.find("another order"), std::string::npos) << note;
}

TEST(Conform, SameOrderOrNoNamesLeavesDataAlone) {
  const Dataset d = named({"a", "b"}, {1, 2});
  std::string note;
  EXPECT_EQ(conform_to_schema(d, model({"a", "b"}), &note).x, d.x);
  EXPECT_EQ(conform_to_schema(d, model({}), &note).x, d.x);  // the model names nothing
  Dataset unnamed = d;
  unnamed.schema.feature_names.clear();  // a headerless file: the count is checked later
  EXPECT_EQ(conform_to_schema(unnamed, model({"b", "a"}), &note).x, d.x);
  EXPECT_TRUE(note.empty());
}

TEST(Conform, RefusesNamingMissingAndUnexpectedColumns) {
  const Dataset d = named({"a", "petal_len", "c"}, {1, 2, 3});
  try {
    conform_to_schema(d, model({"a", "petal_length", "c"}));
    FAIL() << "a renamed column was accepted";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("data 't.csv'"), std::string::npos) << m;
    EXPECT_NE(m.find("missing petal_length; unexpected petal_len"), std::string::npos) << m;
  }
  EXPECT_THROW(conform_to_schema(named({"a", "b", "c"}, {1, 2, 3}), model({"a", "b"})), Error);
  EXPECT_THROW(conform_to_schema(named({"a", "a"}, {1, 2}), model({"a", "b"})), Error);
}

}  // namespace
}  // namespace dptrain
