#!/bin/sh
# udhcpc event hook: applies a lease to $interface. udhcpc keeps running and calls
# it again on renewals. RUSTACK_PRIMARY=1 (set by /init for the first NIC) also
# installs the routes (default, option 121) and resolv.conf. Every new address is
# announced on the console (RUSTACK-GUEST-DHCP ...) and written to
# /run/rustack/<iface>.ip.
RUN=/run/rustack
mkdir -p $RUN
say() { echo "$*" > /dev/console; }

route_all() {
    # Routes come from the first NIC only: a second NIC on another network must not
    # take over the default route or the metadata route.
    [ "$RUSTACK_PRIMARY" = 1 ] || return 0
    # Classless static routes (option 121: "dest/len gw dest/len gw ...") win over
    # the router option (RFC 3442); Neutron uses them for 169.254.169.254.
    if [ -n "$staticroutes" ]; then
        set -- $staticroutes
        while [ $# -ge 2 ]; do
            if [ "$2" = 0.0.0.0 ]; then ip route replace "$1" dev "$interface"
            else ip route replace "$1" via "$2" dev "$interface" onlink; fi
            shift 2
        done
    elif [ -n "$router" ]; then
        ip route replace default via "${router%% *}" dev "$interface" onlink
    fi
}

case "$1" in
    deconfig)
        ip link set "$interface" up
        ip -4 addr flush dev "$interface"
        rm -f "$RUN/$interface.ip"
        ;;
    bound|renew)
        [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
        old=$(cat "$RUN/$interface.ip" 2>/dev/null)
        if [ "$old" != "$ip" ]; then
            ip -4 addr flush dev "$interface"
            ip addr add "$ip/${mask:-24}" ${broadcast:+broadcast $broadcast} dev "$interface"
        fi
        route_all
        if [ "$RUSTACK_PRIMARY" = 1 ]; then
            : > /etc/resolv.conf
            [ -n "$domain" ] && echo "search $domain" >> /etc/resolv.conf
            for s in $dns; do echo "nameserver $s" >> /etc/resolv.conf; done
            [ -n "$hostname" ] && echo "$hostname" > "$RUN/dhcp-hostname"
        fi
        echo "$ip" > "$RUN/$interface.ip"
        [ "$old" != "$ip" ] && say "RUSTACK-GUEST-DHCP iface=$interface ip=$ip router=${router:-none} mtu=${mtu:-default} up=$(cut -d' ' -f1 /proc/uptime)"
        ;;
    leasefail|nak)
        say "RUSTACK-GUEST-DHCP-RETRY iface=$interface event=$1 up=$(cut -d' ' -f1 /proc/uptime)"
        ;;
esac
exit 0
