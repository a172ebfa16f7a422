// qf_peer: QuickFIX (Debian's libquickfix-dev, 1.15.1) as ustack's FIX
// counterparty, acceptor or initiator, with hooks for the faults the FIX
// session tests need (issue 12).
//
//   qf_peer acceptor  --config FILE [options]
//   qf_peer initiator --config FILE --count N [--rate R | --rtt] [options]
//   qf_peer parse --dict FIX44.xml --count N
//
// parse: no session; times QuickFIX on one NewOrderSingle of about 180 bytes:
//   parse + DataDictionary validation (FIX::Message(string, dd, true), what
//   a session does to each message it receives) and serialisation
//   (Message::toString with BodyLength and CheckSum), ns per message.
//
// The config file is QuickFIX's own ([DEFAULT]/[SESSION]); the templates in
// tests/fix/*.cfg.in hold @PORT@, @DIR@ (store/log directory) and @FIXDIR@
// (this directory, for DataDictionary=@FIXDIR@/FIX44.xml), filled by sed.
//
// acceptor: answers every NewOrderSingle(D) with one ExecutionReport(8), a
//   full fill (like QuickFIX's examples/executor): OrderID, ExecID,
//   ExecType/OrdStatus filled, LeavesQty 0, CumQty, AvgPx, Side, Symbol and
//   ClOrdID echoed. A ClOrdID seen before is not answered again: with
//   PossDupFlag(43)=Y it is counted as possdup-duplicate, without it as
//   duplicate-order (an error: exit 1). Runs until SIGINT/SIGTERM, or with
//   --once until the first session logs out.
// initiator: logs on, sends --count NewOrderSingle (ClOrdID "C<n>", n from 1)
//   as fast as the session takes them, or --rate R per second, or with --rtt
//   one at a time (the next is sent when the previous one's report arrives)
//   and prints the round trip p50/p99; waits (--timeout S, default 60) for
//   the reports, logs out and exits 0 only if every order got exactly one
//   ExecutionReport (a PossDupFlag=Y repeat is counted, not an error) and no
//   Reject(3) came.
//
// Options (both roles):
//   --store file|memory   FileStore (FileStorePath from the config; the
//                         default) or MemoryStore (no durability)
//   --log file|screen|none  FileLog (FileLogPath), ScreenLog, or none (default)
//   --timeout S           bound on every wait (logon, reports, logout)
// Fault hooks (K counts application messages this side has sent):
//   --skip-seq K[:GAP]    after K messages, jump our outgoing MsgSeqNum(34)
//                         forward by GAP (default 10) with the session's
//                         setNextSenderMsgSeqNum: the peer sees a gap and
//                         must send ResendRequest(2); QuickFIX answers it
//                         with SequenceReset-GapFill for the missing numbers.
//   --garble-after K      after K messages, write 16 bytes of garbage
//                         straight to the session's socket (QuickFIX has no
//                         hook for raw bytes: the fd is found as the one
//                         connected TCP socket of this process). The bytes
//                         land between two messages only when QuickFIX's own
//                         send queue is empty, which holds with --rate/--rtt
//                         or on the acceptor (it writes from its callback).
//   --kill-after K        after K orders sent (initiator) or answered
//                         (acceptor), _exit(86) at once: a crash; the
//                         FileStore has what was fflush'ed (see below).
//   --stall-after K       after K messages, block the session's thread (no
//                         more reads, writes, Heartbeats or answers) until
//                         the peer closes the connection or --hold S
//                         (default 30) passes: the peer's TestRequest goes
//                         unanswered and it must disconnect.
//   --no-heartbeat        on the first TestRequest(1) received, block the
//                         session's thread the same way, so no Heartbeat(0)
//                         answers it. QuickFIX answers TestRequest inside
//                         Session, after the fromAdmin callback, with no
//                         option to suppress it: blocking the callback is the
//                         only way, so this side sends nothing else either.
//                         The peer only sends a TestRequest after it heard
//                         nothing for HeartBtInt, which QuickFIX's own
//                         Heartbeats prevent: use --stall-after for that.
//                         (So it is not exercised against QuickFIX itself.)
//
// Output: session events as they happen ("qf_peer: logon FIX.4.4:A->B", ...,
// "qf_peer: reject received ...") and at exit one summary line:
//   qf_peer: sent N D, received M 8, rejects-received R, rejects-sent S,
//     resend-requests-received X, resend-requests-sent Y,
//     sequence-resets-received Z, sequence-resets-sent W, ...
// (one line; acceptor: "received N D, sent M 8, ..."), then the rates.
//
// QuickFIX's FileStore (src/C++/FileStore.cpp) writes each sent message with
// fwrite + fflush (body and header-index files) and the next sequence numbers,
// after every message each way, with fprintf + fflush; it never calls fsync:
// Debian's libquickfix.so.17 imports no fsync, fdatasync or msync (objdump -T),
// and strace of an acceptor shows only write/lseek per message. Its durability
// is the kernel's page cache: it survives a process crash, not a power loss.
//
// Examples (in a private netns: unshare -n, ip link set lo up, ip addr add
// 192.0.2.1/32 dev lo; build/tests/fix/qf_peer):
//   for r in acceptor initiator; do sed -e s/@PORT@/9878/ -e s/@HOST@/192.0.2.1/
//     -e s,@DIR@,/tmp/qf, -e s,@FIXDIR@,$PWD/tests/fix, -e s/@BEGIN@/FIX.4.4/
//     -e s/@DICT@/FIX44/ tests/fix/$r.cfg.in >/tmp/qf-$r.cfg; done   (one line)
//   qf_peer acceptor --config /tmp/qf-acceptor.cfg --once --log file &
//   qf_peer initiator --config /tmp/qf-initiator.cfg --count 100000
//   qf_peer initiator --config /tmp/qf-initiator.cfg --count 10000 --rtt --store memory
//   qf_peer initiator --config /tmp/qf-initiator.cfg --count 300 --rate 3000 --skip-seq 100:10
// The FileStore keeps sequence numbers across runs (FileStorePath): remove
// the store directory, or add ResetOnLogon=Y, for a fresh session.
// tests/interop/test_fix_quickfix.sh runs it both ways with a capture.
//
// Built by CMake with -std=gnu++14 (QuickFIX 1.15's headers use dynamic
// exception specifications, which C++17 removed).

#include <quickfix/Application.h>
#include <quickfix/DataDictionary.h>
#include <quickfix/FileLog.h>
#include <quickfix/FileStore.h>
#include <quickfix/Log.h>
#include <quickfix/MessageStore.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketAcceptor.h>
#include <quickfix/SocketInitiator.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <memory>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace
{

using Clock = std::chrono::steady_clock;

struct Options {
    bool acceptor = false;
    std::string config;
    std::string dict;
    bool parse = false;
    std::string store = "file";
    std::string log = "none";
    long count = 0;
    double rate = 0;
    bool rtt = false;
    bool once = false;
    double timeout = 60;
    long skip_seq = -1;
    int skip_gap = 10;
    long garble_after = -1;
    long kill_after = -1;
    long stall_after = -1;
    bool no_heartbeat = false;
    double hold = 30;
};

Options opt;
std::atomic<bool> stop_requested{false};

void on_signal(int)
{
    stop_requested = true;
}

void usage()
{
    std::fprintf(stderr,
                 "usage: qf_peer acceptor|initiator --config FILE [--count N] [--rate R | --rtt]\n"
                 "       qf_peer parse --dict FIX44.xml --count N\n"
                 "  [--store file|memory] [--log file|screen|none] [--timeout S] [--once]\n"
                 "  [--skip-seq K[:GAP]] [--garble-after K] [--kill-after K]\n"
                 "  [--stall-after K] [--no-heartbeat] [--hold S]\n");
    std::exit(2);
}

// The one connected TCP/IP socket of this process: QuickFIX keeps its socket
// private, and a qf_peer has one session.
int session_fd()
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int found = -1;
    while (struct dirent *e = readdir(d)) {
        int fd = std::atoi(e->d_name);
        if (fd <= 2)
            continue;
        int type = 0;
        socklen_t len = sizeof type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM)
            continue;
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        // AF_INET only: QuickFIX's SocketMonitor also holds a connected
        // AF_UNIX socketpair for its own wake-ups.
        if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0 &&
            (peer.ss_family == AF_INET || peer.ss_family == AF_INET6)) {
            found = fd;
            break;
        }
    }
    closedir(d);
    return found;
}

// Blocks the calling (session) thread until the peer closes the connection
// or --hold seconds pass.
std::atomic<bool> stall_peer_closed{false};
std::atomic<bool> stall_finished{false};

void stall(const char *why)
{
    int fd = session_fd();
    std::printf("qf_peer: stalled (%s), fd %d, holding up to %.0f s\n", why, fd, opt.hold);
    std::fflush(stdout);
    auto start = Clock::now();
    while (std::chrono::duration<double>(Clock::now() - start).count() < opt.hold) {
        if (fd >= 0) {
            struct pollfd p = {fd, POLLRDHUP, 0};
            if (poll(&p, 1, 100) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
                double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
                std::printf("qf_peer: stall ended: peer closed the connection after %.0f ms\n", ms);
                std::fflush(stdout);
                stall_peer_closed = true;
                stall_finished = true;
                return;
            }
        } else {
            usleep(100000);
        }
    }
    std::printf("qf_peer: stall ended: %.0f s passed, the peer kept the connection\n", opt.hold);
    std::fflush(stdout);
    stall_finished = true;
}

void garble()
{
    static const char junk[] = "\x01garbage=\x02\x03zz\x01";
    int fd = session_fd();
    ssize_t n = fd >= 0 ? write(fd, junk, sizeof junk - 1) : -1;
    std::printf("qf_peer: wrote %zd garbage bytes to fd %d\n", n, fd);
    std::fflush(stdout);
}

class Peer : public FIX::Application
{
  public:
    // Counters (the session thread writes, main reads at the end).
    std::atomic<long> d_sent{0}, d_received{0}, er_sent{0}, er_received{0};
    std::atomic<long> app_sent{0}, app_received{0}, app_resent{0};
    std::atomic<long> rejects_received{0}, rejects_sent{0};
    std::atomic<long> rr_received{0}, rr_sent{0}, sr_received{0}, sr_sent{0};
    std::atomic<long> logons{0}, logouts{0};
    std::atomic<long> duplicate_orders{0}, possdup_duplicates{0}, duplicate_reports{0},
        unknown_reports{0};
    std::atomic<bool> logged_on{false};
    std::atomic<bool> stall_done{false};
    // --stall-after on the initiator: its main thread sends, so the session's
    // thread is blocked in the next callback it makes (a report, a Heartbeat).
    std::atomic<bool> stall_armed{false};
    void maybe_stall()
    {
        if (stall_armed && !stall_done.exchange(true))
            stall("--stall-after: session thread blocked");
    }
    FIX::SessionID session;
    bool have_session = false;

    // Initiator: reports per order (index = order number), and RTT samples.
    std::vector<unsigned char> reports;
    std::vector<Clock::time_point> sent_at;
    std::vector<double> rtt_us;
    std::mutex mu;
    std::condition_variable cv;
    long answered = 0; // orders with at least one report
    Clock::time_point first_in, last_in;

    // Acceptor
    std::unordered_set<std::string> seen;
    long order_id = 0;

    void onCreate(const FIX::SessionID &s) override
    {
        session = s;
        have_session = true;
    }
    void onLogon(const FIX::SessionID &s) override
    {
        logons++;
        std::printf("qf_peer: logon %s\n", s.toString().c_str());
        std::fflush(stdout);
        {
            std::lock_guard<std::mutex> l(mu);
            logged_on = true;
        }
        cv.notify_all();
    }
    void onLogout(const FIX::SessionID &s) override
    {
        logouts++;
        std::printf("qf_peer: logout %s\n", s.toString().c_str());
        std::fflush(stdout);
        {
            std::lock_guard<std::mutex> l(mu);
            logged_on = false;
        }
        cv.notify_all();
    }
    void toAdmin(FIX::Message &m, const FIX::SessionID &) override
    {
        maybe_stall();
        const std::string &t = m.getHeader().getField(FIX::FIELD::MsgType);
        if (t == "3") {
            rejects_sent++;
            std::printf("qf_peer: reject sent: %s\n", printable(m).c_str());
        } else if (t == "2") {
            rr_sent++;
            std::printf("qf_peer: resend-request sent: %s\n", printable(m).c_str());
        } else if (t == "4") {
            sr_sent++;
            std::printf("qf_peer: sequence-reset sent: %s\n", printable(m).c_str());
        } else if (t == "5") {
            std::printf("qf_peer: logout sent: %s\n", printable(m).c_str());
        }
        std::fflush(stdout);
    }
    void toApp(FIX::Message &m, const FIX::SessionID &) throw(FIX::DoNotSend) override
    {
        app_sent++;
        if (m.getHeader().isSetField(FIX::FIELD::PossDupFlag) &&
            m.getHeader().getField(FIX::FIELD::PossDupFlag) == "Y")
            app_resent++;
    }
    void fromAdmin(const FIX::Message &m,
                   const FIX::SessionID &) throw(FIX::FieldNotFound, FIX::IncorrectDataFormat,
                                                 FIX::IncorrectTagValue, FIX::RejectLogon) override
    {
        maybe_stall();
        const std::string &t = m.getHeader().getField(FIX::FIELD::MsgType);
        if (t == "3") {
            rejects_received++;
            std::printf("qf_peer: reject received: %s\n", printable(m).c_str());
        } else if (t == "2") {
            rr_received++;
            std::printf("qf_peer: resend-request received: %s\n", printable(m).c_str());
        } else if (t == "4") {
            sr_received++;
            std::printf("qf_peer: sequence-reset received: %s\n", printable(m).c_str());
        } else if (t == "5") {
            std::printf("qf_peer: logout received: %s\n", printable(m).c_str());
        } else if (t == "1") {
            std::printf("qf_peer: test-request received\n");
            if (opt.no_heartbeat && !stall_done.exchange(true)) {
                std::fflush(stdout);
                stall("--no-heartbeat: TestRequest not answered");
            }
        }
        std::fflush(stdout);
    }
    void fromApp(const FIX::Message &m,
                 const FIX::SessionID &s) throw(FIX::FieldNotFound, FIX::IncorrectDataFormat,
                                                FIX::IncorrectTagValue,
                                                FIX::UnsupportedMessageType) override
    {
        maybe_stall();
        app_received++;
        const std::string &t = m.getHeader().getField(FIX::FIELD::MsgType);
        if (t == "D")
            on_order(m, s);
        else if (t == "8")
            on_report(m);
        else
            throw FIX::UnsupportedMessageType();
    }

    // After each application message this side sends: the fault hooks.
    void after_send(long sent)
    {
        if (sent == opt.skip_seq) {
            FIX::Session *ss = FIX::Session::lookupSession(session);
            int next = ss->getExpectedSenderNum();
            ss->setNextSenderMsgSeqNum(next + opt.skip_gap);
            std::printf("qf_peer: skipped outgoing MsgSeqNum %d..%d\n", next,
                        next + opt.skip_gap - 1);
            std::fflush(stdout);
        }
        if (sent == opt.garble_after)
            garble();
        if (sent == opt.stall_after) {
            if (opt.acceptor) {
                stall_done = true;
                stall("--stall-after: session thread blocked");
            } else {
                stall_armed = true;
            }
        }
        if (sent == opt.kill_after) {
            static const char msg[] = "qf_peer: --kill-after: _exit(86)\n";
            std::fflush(stdout);
            (void)!write(1, msg, sizeof msg - 1);
            _exit(86);
        }
    }

    static std::string printable(const FIX::Message &m)
    {
        std::string s = m.toString();
        std::replace(s.begin(), s.end(), '\x01', '|');
        return s;
    }

  private:
    void on_order(const FIX::Message &m, const FIX::SessionID &s)
    {
        auto now = Clock::now();
        if (d_received++ == 0)
            first_in = now;
        last_in = now;
        std::string clordid = m.getField(FIX::FIELD::ClOrdID);
        bool possdup = m.getHeader().isSetField(FIX::FIELD::PossDupFlag) &&
                       m.getHeader().getField(FIX::FIELD::PossDupFlag) == "Y";
        if (!seen.insert(clordid).second) {
            if (possdup) {
                possdup_duplicates++;
            } else {
                duplicate_orders++;
                std::printf("qf_peer: duplicate order %s without PossDupFlag\n", clordid.c_str());
                std::fflush(stdout);
            }
            return;
        }
        const std::string &begin = s.getBeginString().getString();
        std::string qty =
            m.isSetField(FIX::FIELD::OrderQty) ? m.getField(FIX::FIELD::OrderQty) : "0";
        std::string px = m.isSetField(FIX::FIELD::Price) ? m.getField(FIX::FIELD::Price) : "0";
        FIX::Message er;
        er.getHeader().setField(FIX::MsgType("8"));
        ++order_id;
        er.setField(FIX::OrderID("O" + std::to_string(order_id)));
        er.setField(FIX::ExecID("E" + std::to_string(order_id)));
        er.setField(FIX::ClOrdID(clordid));
        if (begin == "FIX.4.2") {
            er.setField(FIX::ExecTransType('0'));
            er.setField(FIX::ExecType('2')); // Fill (4.2)
        } else {
            er.setField(FIX::ExecType('F')); // Trade (4.4)
        }
        er.setField(FIX::OrdStatus('2')); // Filled
        er.setField(FIX::FIELD::Symbol, m.getField(FIX::FIELD::Symbol));
        er.setField(FIX::FIELD::Side, m.getField(FIX::FIELD::Side));
        er.setField(FIX::FIELD::OrderQty, qty);
        er.setField(FIX::FIELD::LastPx, px);
        er.setField(32, qty); // LastShares(32) in 4.2, LastQty(32) in 4.4
        er.setField(FIX::FIELD::LeavesQty, "0");
        er.setField(FIX::FIELD::CumQty, qty);
        er.setField(FIX::FIELD::AvgPx, px);
        FIX::Session::sendToTarget(er, s);
        long n = ++er_sent;
        after_send(n);
    }

    void on_report(const FIX::Message &m)
    {
        er_received++;
        std::string clordid = m.getField(FIX::FIELD::ClOrdID);
        bool possdup = m.getHeader().isSetField(FIX::FIELD::PossDupFlag) &&
                       m.getHeader().getField(FIX::FIELD::PossDupFlag) == "Y";
        long n = clordid.size() > 1 && clordid[0] == 'C' ? std::atol(clordid.c_str() + 1) : 0;
        auto now = Clock::now();
        std::lock_guard<std::mutex> l(mu);
        if (n < 1 || n > (long)reports.size() - 1) {
            unknown_reports++;
            std::printf("qf_peer: report for unknown ClOrdID %s\n", clordid.c_str());
            std::fflush(stdout);
            return;
        }
        if (reports[n]++ == 0) {
            if (answered++ == 0)
                first_in = now;
            last_in = now;
            if (opt.rtt)
                rtt_us.push_back(
                    std::chrono::duration<double, std::micro>(now - sent_at[n]).count());
            cv.notify_all();
        } else if (possdup) {
            possdup_duplicates++;
        } else {
            duplicate_reports++;
            std::printf("qf_peer: second report for %s without PossDupFlag\n", clordid.c_str());
            std::fflush(stdout);
        }
    }
};

double pct(std::vector<double> v, double p)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    size_t i = (size_t)(p / 100.0 * (double)(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

void parse_args(int argc, char **argv)
{
    if (argc < 2)
        usage();
    std::string role = argv[1];
    if (role == "acceptor")
        opt.acceptor = true;
    else if (role == "parse")
        opt.parse = true;
    else if (role != "initiator")
        usage();
    for (int i = 2; i < argc; i++) {
        std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc)
                usage();
            return argv[++i];
        };
        if (a == "--config")
            opt.config = val();
        else if (a == "--dict")
            opt.dict = val();
        else if (a == "--store")
            opt.store = val();
        else if (a == "--log")
            opt.log = val();
        else if (a == "--count")
            opt.count = std::atol(val().c_str());
        else if (a == "--rate")
            opt.rate = std::atof(val().c_str());
        else if (a == "--rtt")
            opt.rtt = true;
        else if (a == "--once")
            opt.once = true;
        else if (a == "--timeout")
            opt.timeout = std::atof(val().c_str());
        else if (a == "--skip-seq") {
            std::string v = val();
            opt.skip_seq = std::atol(v.c_str());
            size_t c = v.find(':');
            if (c != std::string::npos)
                opt.skip_gap = std::atoi(v.c_str() + c + 1);
        } else if (a == "--garble-after")
            opt.garble_after = std::atol(val().c_str());
        else if (a == "--kill-after")
            opt.kill_after = std::atol(val().c_str());
        else if (a == "--stall-after")
            opt.stall_after = std::atol(val().c_str());
        else if (a == "--no-heartbeat")
            opt.no_heartbeat = true;
        else if (a == "--hold")
            opt.hold = std::atof(val().c_str());
        else
            usage();
    }
    if (opt.parse) {
        if (opt.dict.empty() || opt.count < 1)
            usage();
        return;
    }
    if (opt.config.empty() || (opt.store != "file" && opt.store != "memory") ||
        (opt.log != "file" && opt.log != "screen" && opt.log != "none") ||
        (!opt.acceptor && opt.count < 1))
        usage();
}

FIX::Message new_order(const FIX::SessionID &s, long n)
{
    FIX::Message m;
    m.getHeader().setField(FIX::MsgType("D"));
    m.setField(FIX::ClOrdID("C" + std::to_string(n)));
    m.setField(FIX::HandlInst('1'));
    m.setField(FIX::Symbol("USTK"));
    m.setField(FIX::Side('1'));
    m.setField(FIX::TransactTime());
    m.setField(FIX::OrderQty(100));
    m.setField(FIX::OrdType('2'));
    m.setField(FIX::Price(10.25));
    (void)s;
    return m;
}

// Waits (bounded by secs, and by SIGINT/SIGTERM) until pred() holds.
template <class Pred> bool wait_for(Peer &p, double secs, Pred pred)
{
    std::unique_lock<std::mutex> l(p.mu);
    auto until = Clock::now() +
                 std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(secs));
    while (!pred()) {
        if (stop_requested || Clock::now() >= until)
            return false;
        p.cv.wait_until(l, std::min(until, Clock::now() + std::chrono::milliseconds(100)));
    }
    return true;
}

void print_summary(Peer &p, const char *role)
{
    if (opt.acceptor)
        std::printf("qf_peer: received %ld D, sent %ld 8", p.d_received.load(), p.er_sent.load());
    else
        std::printf("qf_peer: sent %ld D, received %ld 8", p.d_sent.load(), p.er_received.load());
    std::printf(", rejects-received %ld, rejects-sent %ld, resend-requests-received %ld, "
                "resend-requests-sent %ld, sequence-resets-received %ld, sequence-resets-sent %ld, "
                "app-resent %ld, possdup-duplicates %ld, duplicates %ld, logons %ld, logouts %ld\n",
                p.rejects_received.load(), p.rejects_sent.load(), p.rr_received.load(),
                p.rr_sent.load(), p.sr_received.load(), p.sr_sent.load(), p.app_resent.load(),
                p.possdup_duplicates.load(),
                p.duplicate_orders.load() + p.duplicate_reports.load() + p.unknown_reports.load(),
                p.logons.load(), p.logouts.load());
    (void)role;
}

} // namespace

// One NewOrderSingle of about 180 bytes, parsed and validated, then
// serialised, --count times each; prints ns per message.
int parse_bench()
{
    try {
        FIX::DataDictionary dd(opt.dict);
        std::string begin = dd.getVersion();
        FIX::Message m;
        m.getHeader().setField(FIX::BeginString(dd.getVersion()));
        m.getHeader().setField(FIX::MsgType("D"));
        m.getHeader().setField(FIX::SenderCompID("CLIENT"));
        m.getHeader().setField(FIX::TargetCompID("EXEC"));
        m.getHeader().setField(FIX::MsgSeqNum(123456));
        m.getHeader().setField(FIX::SendingTime());
        m.setField(FIX::ClOrdID("ORD-20261203-0000123456"));
        m.setField(FIX::Account("ACCT0001"));
        m.setField(FIX::HandlInst('1'));
        m.setField(FIX::Symbol("USTK"));
        m.setField(FIX::Side('1'));
        m.setField(FIX::TransactTime());
        m.setField(FIX::OrderQty(100));
        m.setField(FIX::OrdType('2'));
        m.setField(FIX::Price(10.25));
        m.setField(FIX::TimeInForce('0'));
        std::string wire = m.toString();
        FIX::Message check(wire, dd, true); // throws if the dictionary rejects it
        long sink = 0;
        auto t0 = Clock::now();
        for (long i = 0; i < opt.count; i++) {
            FIX::Message in(wire, dd, true);
            dd.validate(in);
            sink += in.bodyLength();
        }
        auto t1 = Clock::now();
        std::string out;
        for (long i = 0; i < opt.count; i++) {
            m.toString(out);
            sink += (long)out.size();
        }
        auto t2 = Clock::now();
        double parse_ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / opt.count;
        double ser_ns = std::chrono::duration<double, std::nano>(t2 - t1).count() / opt.count;
        std::printf("qf_peer: parse+validate %.0f ns, serialise %.0f ns per %zu-byte %s "
                    "NewOrderSingle (%ld each, check %ld)\n",
                    parse_ns, ser_ns, wire.size(), begin.c_str(), opt.count, sink % 10);
        return 0;
    } catch (std::exception &e) {
        std::fprintf(stderr, "qf_peer: %s\n", e.what());
        return 2;
    }
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    if (opt.parse)
        return parse_bench();
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);

    Peer peer;
    std::unique_ptr<FIX::SessionSettings> settings;
    std::unique_ptr<FIX::MessageStoreFactory> store;
    std::unique_ptr<FIX::LogFactory> log;
    std::unique_ptr<FIX::Acceptor> acceptor;
    std::unique_ptr<FIX::Initiator> initiator;
    try {
        settings.reset(new FIX::SessionSettings(opt.config));
        if (opt.store == "file")
            store.reset(new FIX::FileStoreFactory(*settings));
        else
            store.reset(new FIX::MemoryStoreFactory());
        if (opt.log == "file")
            log.reset(new FIX::FileLogFactory(*settings));
        else if (opt.log == "screen")
            log.reset(new FIX::ScreenLogFactory(*settings));
        if (opt.acceptor) {
            if (log)
                acceptor.reset(new FIX::SocketAcceptor(peer, *store, *settings, *log));
            else
                acceptor.reset(new FIX::SocketAcceptor(peer, *store, *settings));
            acceptor->start();
        } else {
            peer.reports.assign(opt.count + 1, 0);
            peer.sent_at.resize(opt.rtt ? opt.count + 1 : 0);
            if (log)
                initiator.reset(new FIX::SocketInitiator(peer, *store, *settings, *log));
            else
                initiator.reset(new FIX::SocketInitiator(peer, *store, *settings));
            initiator->start();
        }
    } catch (std::exception &e) {
        std::fprintf(stderr, "qf_peer: %s\n", e.what());
        return 2;
    }
    std::printf("qf_peer: %s started (%s store)\n", opt.acceptor ? "acceptor" : "initiator",
                opt.store.c_str());

    int rc = 0;
    if (opt.acceptor) {
        // Until a signal, or with --once until the first session has logged out.
        while (!stop_requested && !(opt.once && peer.logouts > 0 && !peer.logged_on))
            usleep(50000);
        acceptor->stop();
        print_summary(peer, "acceptor");
        double in_s = std::chrono::duration<double>(peer.last_in - peer.first_in).count();
        if (peer.d_received > 1)
            std::printf("qf_peer: orders %ld received in %.3f s (first to last), %.0f orders/s\n",
                        peer.d_received.load(), in_s, (double)(peer.d_received - 1) / in_s);
        if (peer.duplicate_orders > 0)
            rc = 1;
        return rc;
    }

    // Initiator.
    if (!wait_for(peer, opt.timeout, [&] { return peer.logged_on.load(); })) {
        std::printf("qf_peer: FAIL: no logon within %.0f s\n", opt.timeout);
        initiator->stop(true);
        print_summary(peer, "initiator");
        return 1;
    }
    auto t0 = Clock::now();
    long stalled = 0;
    for (long n = 1; n <= opt.count && !stop_requested; n++) {
        if (opt.rate > 0) {
            auto due = t0 + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>((double)(n - 1) / opt.rate));
            std::this_thread::sleep_until(due);
        }
        FIX::Message m = new_order(peer.session, n);
        if (opt.rtt) {
            std::lock_guard<std::mutex> l(peer.mu);
            peer.sent_at[n] = Clock::now();
        }
        if (!FIX::Session::sendToTarget(m, peer.session)) {
            std::printf("qf_peer: send of order %ld failed (not logged on?)\n", n);
            break;
        }
        long sent = ++peer.d_sent;
        peer.after_send(sent);
        if (sent == opt.stall_after) {
            stalled = sent;
            break;
        }
        if (opt.rtt && !wait_for(peer, opt.timeout, [&] { return peer.reports[n] > 0; })) {
            std::printf("qf_peer: FAIL: no report for order %ld within %.0f s\n", n, opt.timeout);
            break;
        }
    }
    auto t_sent = Clock::now();
    if (stalled) {
        // Bounded: the stall itself ends within --hold.
        auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(opt.hold + opt.timeout));
        while (!stall_finished && Clock::now() < until)
            usleep(50000);
        initiator->stop(true);
        print_summary(peer, "initiator");
        std::printf("qf_peer: stalled after %ld orders; the peer %s\n", stalled,
                    stall_peer_closed ? "closed the connection" : "did NOT close the connection");
        return stall_peer_closed ? 0 : 1;
    }
    bool all = wait_for(peer, opt.timeout, [&] { return peer.answered >= opt.count; });
    auto t_done = Clock::now();
    if (peer.logged_on) {
        FIX::Session *s = FIX::Session::lookupSession(peer.session);
        if (s)
            s->logout("qf_peer done");
        if (!wait_for(peer, opt.timeout, [&] { return !peer.logged_on.load(); }))
            std::printf("qf_peer: no logout within %.0f s\n", opt.timeout);
    }
    initiator->stop();

    long missing = 0, doubled = 0;
    for (long n = 1; n <= opt.count; n++) {
        if (peer.reports[n] == 0)
            missing++;
    }
    doubled = peer.duplicate_reports + peer.unknown_reports;
    print_summary(peer, "initiator");
    double send_s = std::chrono::duration<double>(t_sent - t0).count();
    double all_s = std::chrono::duration<double>(t_done - t0).count();
    std::printf("qf_peer: orders %ld, sent in %.3f s, all reports in %.3f s, %.0f orders/s\n",
                peer.d_sent.load(), send_s, all_s, all_s > 0 ? (double)peer.answered / all_s : 0.0);
    if (opt.rtt)
        std::printf("qf_peer: rtt-us p50 %.1f p99 %.1f max %.1f (%zu samples)\n",
                    pct(peer.rtt_us, 50), pct(peer.rtt_us, 99), pct(peer.rtt_us, 100),
                    peer.rtt_us.size());
    if (!all || missing > 0 || doubled > 0 || peer.rejects_received > 0) {
        std::printf("qf_peer: FAIL: %ld orders without a report, %ld extra reports, %ld rejects\n",
                    missing, doubled, peer.rejects_received.load());
        rc = 1;
    }
    return rc;
}
