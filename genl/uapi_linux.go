//go:build linux

package genl

// MPTCP path-manager uapi numbers, from the kernel's YNL spec
// Documentation/netlink/specs/mptcp_pm.yaml and the header generated from
// it, include/uapi/linux/mptcp_pm.h (flags: include/uapi/linux/mptcp.h).
// x/sys/unix has none of these names.

// Version of the family (MPTCP_PM_VER).
const familyVersion = 1

// Commands, enum mptcp_pm_command (MPTCP_PM_CMD_*).
const (
	cmdAddAddr        = 1
	cmdDelAddr        = 2
	cmdGetAddr        = 3
	cmdFlushAddrs     = 4
	cmdSetLimits      = 5
	cmdGetLimits      = 6
	cmdSetFlags       = 7
	cmdAnnounce       = 8
	cmdRemove         = 9
	cmdSubflowCreate  = 10
	cmdSubflowDestroy = 11
)

// Top-level command attributes, MPTCP_PM_ATTR_* (MPTCP_PM_ENDPOINT_ADDR has
// the same number as MPTCP_PM_ATTR_ADDR).
const (
	attrAddr        = 1 // nest: address
	attrRcvAddAddrs = 2 // u32
	attrSubflows    = 3 // u32
	attrToken       = 4 // u32, host order
	attrLocID       = 5 // u8
	attrAddrRemote  = 6 // nest: address
)

// Nested address attributes, MPTCP_PM_ADDR_ATTR_*.
const (
	addrAttrFamily = 1 // u16
	addrAttrID     = 2 // u8
	addrAttrAddr4  = 3 // 4 bytes, network order
	addrAttrAddr6  = 4 // 16 bytes
	addrAttrPort   = 5 // u16, host order (the kernel does htons(nla_get_u16()))
	addrAttrFlags  = 6 // u32
	addrAttrIfIdx  = 7 // s32
)
