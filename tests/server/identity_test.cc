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

}  // namespace
}  // namespace sluice::server
