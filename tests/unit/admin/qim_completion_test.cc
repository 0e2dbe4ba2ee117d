// Tab completion of qim's interactive prompt: command words, then a command's
// subcommands, then its options.
#include <gtest/gtest.h>

#include "admin_qim/qim_console.h"

namespace im::qim {
namespace {

using Words = std::vector<std::string>;

bool Has(const Words& words, const std::string& w) { return std::find(words.begin(), words.end(), w) != words.end(); }

TEST(QimCompletionTest, FirstWordIsACommand) {
  const Words all = Completions("");
  for (const char* command : {"account", "group", "node", "online", "stats", "send", "ban", "help", "quit"}) {
    EXPECT_TRUE(Has(all, command)) << command;
  }
  EXPECT_FALSE(Has(all, "list"));  // a subcommand of several commands, not a command
  EXPECT_EQ(Completions("gr"), Words{"group"});
  EXPECT_EQ(Completions("  sta"), Words{"stats"});
  EXPECT_TRUE(Completions("zzz").empty());
}

TEST(QimCompletionTest, SecondWordIsASubcommandOfTheFirst) {
  EXPECT_EQ(Completions("node "), (Words{"add", "disable", "enable", "list"}));
  EXPECT_EQ(Completions("node l"), Words{"list"});
  EXPECT_EQ(Completions("node  dis"), Words{"disable"});
  EXPECT_TRUE(Has(Completions("group "), "add-member"));
}

TEST(QimCompletionTest, OptionsOfTheChosenCommand) {
  EXPECT_EQ(Completions("node add --ad"), (Words{"--address", "--admin"}));
  // Option values do not move the completion away from the command.
  EXPECT_EQ(Completions("node add --address 10.0.0.1 --tcp"), Words{"--tcp-port"});
  EXPECT_TRUE(Has(Completions("send --"), "--to"));
  EXPECT_FALSE(Has(Completions("send --"), "--address"));
}

}  // namespace
}  // namespace im::qim
