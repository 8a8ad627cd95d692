// Note [Name tables]: parsing, naming and the error text derive from one table per enum.
#include "dptrain/names.hpp"

#include <gtest/gtest.h>

#include <string>

#include "dptrain/activation.hpp"
#include "dptrain/engine.hpp"
#include "dptrain/model.hpp"
#include "dptrain/optimizer.hpp"
#include "dptrain/schema.hpp"

namespace dptrain {
namespace {

enum class Colour { red, green, blue };
constexpr NameTable<Colour, 3, 1> kColours{
    "colour",
    {{{Colour::red, "red"}, {Colour::green, "green"}, {Colour::blue, "blue"}}},
    {{{Colour::red, "crimson"}}}};
static_assert(kColours.complete_through(Colour::blue));
// A table that misses a value, names one twice, or stops short of the last value is refused.
static_assert(!NameTable<Colour, 2>{"colour", {{{Colour::red, "red"}, {Colour::blue, "blue"}}}}
                   .complete_through(Colour::blue));
static_assert(!NameTable<Colour, 3>{
    "colour", {{{Colour::red, "red"}, {Colour::red, "rouge"}, {Colour::blue, "blue"}}}}
                   .complete_through(Colour::blue));
static_assert(!kColours.complete_through(Colour::green));

std::string parse_error(std::string_view text) {
  try {
    kColours.parse(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(NameTable, ParsesNamesAndAliasesAndNamesValues) {
  EXPECT_EQ(kColours.parse("green"), Colour::green);
  EXPECT_EQ(kColours.parse("crimson"), Colour::red);
  EXPECT_STREQ(kColours.name(Colour::blue), "blue");
  EXPECT_STREQ(kColours.name(static_cast<Colour>(7)), "?");
  EXPECT_EQ(kColours.expected(), "red, green or blue");
}

TEST(NameTable, UnknownNameListsTheCanonicalNames) {
  EXPECT_EQ(parse_error("mauve"), "unknown colour 'mauve' (expected red, green or blue)");
  EXPECT_EQ(parse_error("Red"), "unknown colour 'Red' (expected red, green or blue)");
  EXPECT_EQ(parse_error(""), "unknown colour '' (expected red, green or blue)");
}

TEST(NameTable, EveryTableRoundTrips) {
  for (const auto& e : kActivationNames.names) EXPECT_EQ(parse_activation(e.name), e.value);
  for (const auto& e : kOptimizerNames.names)
    EXPECT_EQ(kOptimizerNames.parse(optimizer_name(e.value)), e.value);
  for (const auto& e : kInitNames.names) EXPECT_EQ(kInitNames.parse(e.name), e.value);
  for (const auto& e : kTaskNames.names) EXPECT_EQ(parse_task(task_name(e.value)), e.value);
  for (const auto& e : kBackendNames.names)
    EXPECT_EQ(parse_backend(backend_name(e.value)), e.value);
  EXPECT_EQ(parse_activation("linear"), Activation::identity);
  EXPECT_STREQ(kInitNames.name(Init::automatic), "auto");
}

TEST(NameTable, BackendNamesRefuseWhatThePoolLacks) {
  EXPECT_EQ(parse_backend("openmp"), parallel::Backend::openmp);
  try {
    parse_backend("cuda");
    ADD_FAILURE() << "parse_backend accepted cuda";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "unknown backend 'cuda' (expected tbb, openmp or threads)");
  }
}

}  // namespace
}  // namespace dptrain
