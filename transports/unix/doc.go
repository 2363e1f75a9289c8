// Package unix is hopwire's Unix-domain socket transport: it carries a
// node's messages to other nodes on the same host over Unix stream
// sockets, for wire.Unix addresses ("3#/path/to/sock"). The node
// manager listens on one in the node's state directory.
//
//	tr, _ := unix.New(node, unix.Config{}) // registers for wire.Unix addresses
//	l, _ := tr.Listen(filepath.Join(dir, "node.sock")) // a socket file, mode 0600
//	node.Allow(l.Flow(), "echoer")                     // default deny, as over TCP
//
// and on another node a route through "3#<dir>/node.sock => echoer"
// reaches the echoer.
//
// # Why a package of aliases
//
// The transport is transports/tcp's, made by tcp.NewUnix: the same hello
// handshake and u32-length framing, the same links and access control,
// the same write path, backpressure and limits, the same shared gnet
// engine. Only naming, binding and dialing a socket differ (tcp/unix.go),
// so the code is not copied: this package is New and type aliases, and
// tcp's doc.go describes the transport. What it adds is the name a
// program imports for the Unix transport, its paths' rules in one place
// (below), and tests and an example of its own. Errors are tcp's
// sentinels (re-exported here); those of a connection read "tcp: ...",
// those about paths "unix: ...", and the logs carry transport=unix.
//
// # Paths
//
// Listen(path) binds a socket file and sets its mode to 0600 with
// os.Chmod right after the bind (the umask is process-wide, so it is not
// changed: between the bind and the chmod the file has the umask's mode;
// keep the socket in a 0700 directory to leave no window). It refuses a
// path that exists and is not a socket (ErrNotSocket) and a socket a
// listener answers on (ErrSocketInUse); a stale socket file, one nothing
// listens on, is replaced. Listener.Close and Transport.Close remove the
// file. A path is at most MaxUnixPath bytes (the OS's sun_path less its
// NUL: 107 on Linux; wire's 255-byte address limit is the looser one):
// longer is refused with ErrPathTooLong. Abstract sockets are not served.
package unix
