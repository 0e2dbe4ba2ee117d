// Disk full: storage_server on a small tmpfs. When the disk fills, appends
// fail with UNAVAILABLE, nothing is half-written, reads keep working and the
// daemon stays up; once space returns, appends succeed again and continue the
// offsets without a gap. Needs permission to mount a tmpfs (skipped without).
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/integration/storage/storage_process.h"

namespace im::storage::testing {
namespace {

class SmallTmpfs {
 public:
  explicit SmallTmpfs(const std::string& path, int mb) : path_(path) {
    std::filesystem::create_directories(path_);
    const std::string options = "size=" + std::to_string(mb) + "m";
    mounted_ = ::mount("tmpfs", path_.c_str(), "tmpfs", 0, options.c_str()) == 0;
    if (!mounted_) error_ = std::strerror(errno);
  }
  ~SmallTmpfs() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  std::string path_;
  bool mounted_ = false;
  std::string error_;
};

// Writes `path` until the file system is full.
void FillDisk(const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  const std::string block(64 * 1024, 'f');
  while (out.write(block.data(), block.size())) {
  }
}

grpc::Status SaveBig(rpc::StorageService::Stub* stub, int64_t uid, const std::string& raw, rpc::SaveReply* reply) {
  rpc::SavePeerMessageRequest request;
  request.set_uid(uid);
  request.set_raw(raw);
  grpc::ClientContext context;
  context.set_deadline(rpc::DeadlineAfter(5000));
  return stub->SavePeerMessage(&context, request, reply);
}

TEST(StorageDiskFullTest, FullDiskIsUnavailableAndRecoversWhenSpaceReturns) {
  im::testing::TempDir dir("storage_full");
  SmallTmpfs tmpfs(dir.path() + "/mnt", 48);
  if (!tmpfs.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here: " << tmpfs.error();
  StorageProcess server({"--storage.data_dir", dir.path() + "/mnt/db", "--storage.write_buffer_mb", "2",
                         "--storage.min_free_mb", "8"});
  ASSERT_TRUE(server.Start());

  const std::string raw(32 * 1024, 'r');
  int64_t last_offset = 0;
  for (int i = 0; i < 20; ++i) {
    rpc::SaveReply reply;
    ASSERT_TRUE(SaveBig(server.stub(), 8, raw, &reply).ok());
    last_offset = reply.offset();
  }
  const std::string filler = dir.path() + "/mnt/filler";
  FillDisk(filler);

  // Keep appending until the disk says no.
  grpc::Status failure;
  for (int i = 0; i < 5000 && failure.ok(); ++i) {
    rpc::SaveReply reply;
    failure = SaveBig(server.stub(), 8, raw, &reply);
    if (failure.ok()) {
      ASSERT_EQ(reply.offset(), last_offset + 1);
      last_offset = reply.offset();
    }
  }
  ASSERT_FALSE(failure.ok()) << "the disk never filled";
  EXPECT_EQ(failure.error_code(), grpc::StatusCode::UNAVAILABLE) << failure.error_message() << "\n" << server.Log();
  EXPECT_NE(failure.error_message().find("disk is full"), std::string::npos) << failure.error_message();
  // Still up: reads work and show exactly the answered appends.
  std::vector<rpc::HistoryMessage> records;
  ASSERT_TRUE(ReadAll(server.stub(), Seq(rpc::SEQ_PEER, 8), &records)) << server.Log();
  EXPECT_EQ(static_cast<int64_t>(records.size()), last_offset);
  EXPECT_TRUE(Linked(records));

  // Space returns: a later append succeeds and continues the offsets.
  std::filesystem::remove(filler);
  rpc::SaveReply reply;
  grpc::Status s;
  for (int i = 0; i < 200; ++i) {
    s = SaveBig(server.stub(), 8, raw, &reply);
    if (s.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(s.ok()) << s.error_message() << "\n" << server.Log();
  EXPECT_EQ(reply.offset(), last_offset + 1);
  last_offset = reply.offset();

  // And all of it survives a restart.
  EXPECT_EQ(server.Terminate(), 0);
  ASSERT_TRUE(server.Start());
  records.clear();
  ASSERT_TRUE(ReadAll(server.stub(), Seq(rpc::SEQ_PEER, 8), &records)) << server.Log();
  EXPECT_EQ(static_cast<int64_t>(records.size()), last_offset);
  EXPECT_TRUE(Linked(records));
  EXPECT_EQ(server.Terminate(), 0);
}

}  // namespace
}  // namespace im::storage::testing
