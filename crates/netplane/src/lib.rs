//! The network data plane: what the network service wants to exist on a host
//! (bridges, namespaces, dnsmasq, nftables), as a driver trait with a Linux
//! implementation and a fake one for API tests.
