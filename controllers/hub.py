"""An Ethernet hub as an OpenFlow 1.3 app: every frame is flooded to every port.

The paper's five PCs shared one hub, so every director and real server sees
every frame (heartbeat broadcasts, ARP, unicast to others). Runs under
os-ken (`osken-manager controllers/hub.py`) and, unchanged, under Ryu.

A small control interface lets the testbed cut the path between two ports
(a partition: neither hears the other, both still reach everyone else) and
heal it: JSON lines on the UNIX socket named by $HUB_CONTROL,
  {"cut": [port_a, port_b], "ports": [every port]}   ->  {"ok": true}
  {"heal": true}                                      ->  {"ok": true}
and drop every announcement of some addresses (gratuitous ARP, unsolicited Neighbour
Advertisements: an announcement lost, or never sent), for the rest of the run:
  {"mute": [address, ...]}                            ->  {"ok": true}
"""
import json
import os

try:
    from os_ken.base import app_manager
    from os_ken.controller import ofp_event
    from os_ken.controller.handler import CONFIG_DISPATCHER, set_ev_cls
    from os_ken.lib import hub
    from os_ken.ofproto import ofproto_v1_3
except ImportError:         # the same API under Ryu's own name
    from ryu.base import app_manager
    from ryu.controller import ofp_event
    from ryu.controller.handler import CONFIG_DISPATCHER, set_ev_cls
    from ryu.lib import hub
    from ryu.ofproto import ofproto_v1_3

from controllers import MUTE_COOKIE, READY_MARK

CUT_COOKIE = 0x7e57      # the partition's flows, removed together by heal
ETH_ARP, ETH_IPV6, ICMPV6, NEIGHBOUR_ADVERT = 0x0806, 0x86dd, 58, 136


class Hub(app_manager.OSKenApp if hasattr(app_manager, 'OSKenApp') else app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.datapath = None
        path = os.environ.get('HUB_CONTROL')
        if path:
            hub.spawn(hub.StreamServer((path,), self.control).serve_forever)

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def install_flood(self, ev):
        # One table-miss entry that floods: no packet-in, no learning, ever.
        dp = self.datapath = ev.msg.datapath
        parser, ofp = dp.ofproto_parser, dp.ofproto
        actions = [parser.OFPActionOutput(ofp.OFPP_FLOOD)]
        inst = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]
        dp.send_msg(parser.OFPFlowMod(datapath=dp, priority=0, match=parser.OFPMatch(),
                                      instructions=inst))
        dp.send_barrier()
        self.logger.info('%s %016x', READY_MARK, dp.id)

    def control(self, sock, _addr):
        """One connection, one JSON command a line, one JSON answer each."""
        f = sock.makefile('rw')
        for line in f:
            try:
                cmd = json.loads(line)
                if 'cut' in cmd:
                    self.cut(cmd['cut'], cmd['ports'])
                elif cmd.get('heal'):
                    self.heal()
                elif 'mute' in cmd:
                    self.mute(cmd['mute'])
                else:
                    raise ValueError('unknown command')
                answer = {'ok': True}
            except Exception as e:      # the testbed gets the reason, the app carries on
                answer = {'ok': False, 'error': '%s: %s' % (type(e).__name__, e)}
            f.write(json.dumps(answer) + '\n')
            f.flush()

    def cut(self, pair, ports):
        """Frames from either port of the pair flood everywhere but to the other."""
        dp = self.datapath
        parser, ofp = dp.ofproto_parser, dp.ofproto
        for a, b in (pair, pair[::-1]):
            actions = [parser.OFPActionOutput(p) for p in ports if p not in (a, b)]
            inst = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]
            dp.send_msg(parser.OFPFlowMod(datapath=dp, cookie=CUT_COOKIE, priority=10,
                                          match=parser.OFPMatch(in_port=a), instructions=inst))
        dp.send_barrier()
        self.logger.info('cut the path between ports %s and %s', *pair)

    def heal(self):
        dp = self.datapath
        parser, ofp = dp.ofproto_parser, dp.ofproto
        dp.send_msg(parser.OFPFlowMod(datapath=dp, cookie=CUT_COOKIE, cookie_mask=0xffffffff,
                                      table_id=ofp.OFPTT_ALL, command=ofp.OFPFC_DELETE,
                                      out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY,
                                      match=parser.OFPMatch()))
        dp.send_barrier()
        self.logger.info('healed: every port floods to every other again')

    def mute(self, addresses):
        """Drop every announcement of these addresses, from any port: a broadcast ARP
        whose sender is the address (gratuitous request or reply), an unsolicited
        Neighbour Advertisement of it (to all nodes). Answers to a client's own ARP
        request or Neighbour Solicitation are unicast, and pass."""
        dp = self.datapath
        parser = dp.ofproto_parser
        for address in addresses:
            if ':' in address:
                match = parser.OFPMatch(eth_type=ETH_IPV6, ip_proto=ICMPV6, ipv6_dst='ff02::1',
                                        icmpv6_type=NEIGHBOUR_ADVERT, ipv6_nd_target=address)
            else:
                match = parser.OFPMatch(eth_type=ETH_ARP, eth_dst='ff:ff:ff:ff:ff:ff',
                                        arp_spa=address)
            # no instructions: the frame goes nowhere
            dp.send_msg(parser.OFPFlowMod(datapath=dp, cookie=MUTE_COOKIE, priority=20,
                                          match=match, instructions=[]))
        dp.send_barrier()
        self.logger.info('dropping every announcement of %s', ', '.join(addresses))
