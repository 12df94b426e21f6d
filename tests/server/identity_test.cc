// The node identity in the data directory (node/server/identity.h): created once, then checked.
#include "node/server/identity.h"

#include <gtest/gtest.h>

#include "tests/log/log_rig.h"

namespace sluice::server {
namespace {

using log::testing::DiskRig;

TEST(Identity, RoundTripsAndRejectsEveryDamagedByte) {
  const Identity identity{7, 42};
  const Bytes bytes = encode_identity(identity);
  auto decoded = decode_identity(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(*decoded, identity);
  for (size_t i = 0; i < bytes.size(); ++i) {
    Bytes damaged = bytes;
    damaged[i] ^= std::byte{0x01};
    EXPECT_FALSE(decode_identity(damaged).ok()) << "byte " << i;
  }
  Bytes truncated(bytes.begin(), bytes.end() - 1);
  EXPECT_FALSE(decode_identity(truncated).ok());
  EXPECT_FALSE(decode_identity(encode_identity(Identity{7, kNoNode})).ok());  // node id 0 is nobody
}

TEST(Identity, CreatedOnceThenAdoptedAndChecked) {
  DiskRig rig;
  auto created = load_or_create_identity(*rig.fs, Identity{5, kNoNode}, 99);
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  EXPECT_EQ(*created, (Identity{5, 99}));  // a new directory draws its id
  rig.crash(3);                            // durable once returned
  auto adopted = load_or_create_identity(*rig.fs, Identity{0, kNoNode}, 1234);
  ASSERT_TRUE(adopted.ok()) << adopted.status().to_string();
  EXPECT_EQ(*adopted, (Identity{5, 99}));
  auto same = load_or_create_identity(*rig.fs, Identity{5, 99}, 1234);
  EXPECT_TRUE(same.ok());
}

TEST(Identity, RefusesAnotherClusterOrNode) {
  DiskRig rig;
  ASSERT_TRUE(load_or_create_identity(*rig.fs, Identity{5, 3}, 0).ok());
  auto other_cluster = load_or_create_identity(*rig.fs, Identity{6, 3}, 0);
  ASSERT_FALSE(other_cluster.ok());
  EXPECT_NE(other_cluster.status().message().find("cluster 5, not 6"), std::string::npos) << other_cluster.status().to_string();
  auto other_node = load_or_create_identity(*rig.fs, Identity{5, 4}, 0);
  ASSERT_FALSE(other_node.ok());
  EXPECT_NE(other_node.status().message().find("node 3, not 4"), std::string::npos) << other_node.status().to_string();
}

// Overwrites file `name` with `bytes`.
void put(runtime::Filesystem& fs, std::string_view name, ByteSpan bytes) {
  auto file = fs.open(name, runtime::OpenMode::create);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->truncate(0).ok());
  ASSERT_TRUE((*file)->write_at(0, bytes).ok());
  ASSERT_TRUE((*file)->sync().ok());
}

TEST(Identity, OneDamagedCopyIsRepairedFromTheOther) {
  for (size_t damaged : {0, 1}) {
    DiskRig rig;
    ASSERT_TRUE(load_or_create_identity(*rig.fs, Identity{5, 3}, 0).ok());
    put(*rig.fs, kIdentityFiles[damaged], as_bytes("sluice-identitY 1\n"));
    auto loaded = load_or_create_identity(*rig.fs, Identity{5, 3}, 0);
    ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
    EXPECT_EQ(*loaded, (Identity{5, 3}));
    ASSERT_TRUE(rig.fs->remove(kIdentityFiles[1 - damaged]).ok());  // the repaired copy alone suffices
    EXPECT_TRUE(load_or_create_identity(*rig.fs, Identity{5, 3}, 0).ok()) << "copy " << damaged;
  }
}

TEST(Identity, ACreationThatFailsHalfwayIsRolledBack) {
  DiskRig rig;
  ASSERT_TRUE(rig.fs->create_dirs(std::string(kIdentityFiles[1]) + ".tmp").ok());  // the second copy cannot be written
  EXPECT_FALSE(load_or_create_identity(*rig.fs, Identity{5, 3}, 0).ok());
  auto first = rig.fs->exists(kIdentityFiles[0]);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(*first) << "a lone first copy would have nothing to be repaired from";
  ASSERT_TRUE(rig.fs->remove(std::string(kIdentityFiles[1]) + ".tmp").ok());
  auto created = load_or_create_identity(*rig.fs, Identity{5, 3}, 0);
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  EXPECT_EQ(*created, (Identity{5, 3}));
}

TEST(Identity, RefusesTwoBadCopiesAndCopiesThatDisagree) {
  DiskRig rig;
  ASSERT_TRUE(load_or_create_identity(*rig.fs, Identity{5, 3}, 0).ok());
  put(*rig.fs, kIdentityFiles[1], encode_identity(Identity{5, 4}));
  auto disagree = load_or_create_identity(*rig.fs, Identity{}, 0);
  ASSERT_FALSE(disagree.ok());
  EXPECT_NE(disagree.status().message().find("disagree"), std::string::npos) << disagree.status().to_string();
  put(*rig.fs, kIdentityFiles[0], as_bytes("junk"));
  put(*rig.fs, kIdentityFiles[1], as_bytes("junk"));
  auto both = load_or_create_identity(*rig.fs, Identity{}, 0);
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().message().find("both identity copies"), std::string::npos) << both.status().to_string();
}

// The scrub while running: both copies damaged (or gone) are rewritten from the identity the node
// runs as, durably (a power loss right after keeps them); with both sound it rewrites nothing.
TEST(Identity, TheScrubRewritesEveryBadCopyFromTheRunningIdentity) {
  DiskRig rig;
  ASSERT_TRUE(load_or_create_identity(*rig.fs, Identity{5, 3}, 0).ok());
  auto nothing = scrub_identity(*rig.fs, Identity{5, 3});
  ASSERT_TRUE(nothing.ok()) << nothing.status().to_string();
  EXPECT_EQ(*nothing, 0u);
  put(*rig.fs, kIdentityFiles[0], as_bytes("junk"));
  ASSERT_TRUE(rig.fs->remove(kIdentityFiles[1]).ok());
  ASSERT_FALSE(load_or_create_identity(*rig.fs, Identity{5, 3}, 0).ok());  // without the scrub: lost
  put(*rig.fs, kIdentityFiles[0], as_bytes("junk"));
  auto repaired = scrub_identity(*rig.fs, Identity{5, 3});
  ASSERT_TRUE(repaired.ok()) << repaired.status().to_string();
  EXPECT_EQ(*repaired, 2u);
  rig.crash(7);
  for (std::string_view name : kIdentityFiles) {  // each copy alone is the identity again
    auto file = rig.fs->open(name, runtime::OpenMode::read_only);
    ASSERT_TRUE(file.ok()) << name;
    Bytes bytes(kIdentityFileBytesMax);
    auto read = (*file)->read_at(0, bytes);
    ASSERT_TRUE(read.ok());
    bytes.resize(*read);
    auto decoded = decode_identity(bytes);
    ASSERT_TRUE(decoded.ok()) << name;
    EXPECT_EQ(*decoded, (Identity{5, 3}));
  }
  auto again = scrub_identity(*rig.fs, Identity{5, 3});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0u);
}

// A copy that is sound but names another identity than the node runs as (a copy restored from
// another node's backup) is rewritten too: the running node is who it is.
TEST(Identity, TheScrubRewritesACopyOfAnotherIdentity) {
  DiskRig rig;
  ASSERT_TRUE(load_or_create_identity(*rig.fs, Identity{5, 3}, 0).ok());
  put(*rig.fs, kIdentityFiles[1], encode_identity(Identity{5, 4}));
  auto repaired = scrub_identity(*rig.fs, Identity{5, 3});
  ASSERT_TRUE(repaired.ok());
  EXPECT_EQ(*repaired, 1u);
  auto loaded = load_or_create_identity(*rig.fs, Identity{5, 3}, 0);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
}

}  // namespace
}  // namespace sluice::server
