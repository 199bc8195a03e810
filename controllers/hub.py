"""An Ethernet hub as an OpenFlow 1.3 app: every frame is flooded to every port.

The paper's five PCs shared one hub, so every director and real server sees
every frame (heartbeat broadcasts, ARP, unicast to others). Runs under
os-ken (`osken-manager controllers/hub.py`) and, unchanged, under Ryu.
"""
try:
    from os_ken.base import app_manager
    from os_ken.controller import ofp_event
    from os_ken.controller.handler import CONFIG_DISPATCHER, set_ev_cls
    from os_ken.ofproto import ofproto_v1_3
except ImportError:         # the same API under Ryu's own name
    from ryu.base import app_manager
    from ryu.controller import ofp_event
    from ryu.controller.handler import CONFIG_DISPATCHER, set_ev_cls
    from ryu.ofproto import ofproto_v1_3

from controllers import READY_MARK


class Hub(app_manager.OSKenApp if hasattr(app_manager, 'OSKenApp') else app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def install_flood(self, ev):
        # One table-miss entry that floods: no packet-in, no learning, ever.
        dp = ev.msg.datapath
        parser, ofp = dp.ofproto_parser, dp.ofproto
        actions = [parser.OFPActionOutput(ofp.OFPP_FLOOD)]
        inst = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]
        dp.send_msg(parser.OFPFlowMod(datapath=dp, priority=0, match=parser.OFPMatch(),
                                      instructions=inst))
        dp.send_barrier()
        self.logger.info('%s %016x', READY_MARK, dp.id)
