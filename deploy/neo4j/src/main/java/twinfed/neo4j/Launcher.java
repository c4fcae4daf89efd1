package twinfed.neo4j;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.io.ByteUnit;

/**
 * Runs one or more independent Neo4j Community DBMS instances (embedded) in one JVM, each
 * with its own home directory and a Bolt connector on 127.0.0.1.
 *
 * <p>Usage: {@code Launcher --data DIR --instance NAME:PORT [--instance NAME:PORT ...]
 * [--page-cache SIZE] [--exit-on-stdin-eof]}
 *
 * <p>Protocol on stdout (one line each, flushed):
 *
 * <ul>
 *   <li>{@code READY <name> bolt://127.0.0.1:<port>} per instance, then {@code ALL READY};
 *   <li>{@code FAILED <name> <reason>} if an instance cannot start (the others are shut down
 *       and the JVM exits with status 1);
 *   <li>{@code STOPPED <name>} per instance on shutdown (SIGTERM, SIGINT, stdin EOF when
 *       {@code --exit-on-stdin-eof} is given).
 * </ul>
 *
 * <p>Usage errors are reported on stderr with exit status 2.
 */
public final class Launcher {

    private static final String HOST = "127.0.0.1";
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,62}");
    private static final String DEFAULT_DB = "neo4j";
    private static final long DB_AVAILABLE_TIMEOUT_MS = TimeUnit.MINUTES.toMillis(5);
    private static final long STARTUP_DRAIN_TIMEOUT_S = 120;

    private static final PrintStream OUT =
            new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true,
                    StandardCharsets.UTF_8);

    /** One requested instance. */
    private record Instance(String name, int port) {
        String uri() {
            return "bolt://" + HOST + ":" + port;
        }
    }

    /** Mutable shared state guarded by {@code Launcher.class}. */
    private static final Map<String, DatabaseManagementService> STARTED = new LinkedHashMap<>();
    private static boolean shuttingDown = false;
    private static volatile ExecutorService startupPool;

    private Launcher() {}

    public static void main(String[] args) {
        Path data = null;
        List<Instance> instances = new ArrayList<>();
        long pageCache = ByteUnit.mebiBytes(64);
        boolean exitOnStdinEof = false;

        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            switch (arg) {
                case "--data" -> data = Path.of(requireValue(args, ++i, arg));
                case "--instance" -> instances.add(parseInstance(requireValue(args, ++i, arg)));
                case "--page-cache" -> pageCache = parseSize(requireValue(args, ++i, arg));
                case "--exit-on-stdin-eof" -> exitOnStdinEof = true;
                case "-h", "--help" -> {
                    usage(null);
                    System.exit(0);
                }
                default -> usageError("unknown argument: " + arg);
            }
        }
        if (data == null) {
            usageError("--data DIR is required");
        }
        if (instances.isEmpty()) {
            usageError("at least one --instance NAME:PORT is required");
        }
        Map<String, Integer> seenNames = new LinkedHashMap<>();
        Map<Integer, String> seenPorts = new LinkedHashMap<>();
        for (Instance inst : instances) {
            if (seenNames.put(inst.name(), inst.port()) != null) {
                usageError("duplicate instance name: " + inst.name());
            }
            String other = seenPorts.put(inst.port(), inst.name());
            if (other != null) {
                usageError("instances " + other + " and " + inst.name() + " share port "
                        + inst.port());
            }
        }

        Path root = data.toAbsolutePath().normalize();
        try {
            Files.createDirectories(root);
        } catch (IOException e) {
            for (Instance inst : instances) {
                emit("FAILED " + inst.name() + " cannot create data directory " + root + ": " + e);
            }
            System.exit(1);
        }

        // Fail fast (and name the port) when a port is already taken. Neo4j would also fail,
        // but with a much longer, less readable message and only after store start-up.
        boolean portsOk = true;
        for (Instance inst : instances) {
            String problem = checkPortFree(inst.port());
            if (problem != null) {
                emit("FAILED " + inst.name() + " port " + inst.port() + " on " + HOST
                        + " is not available (" + problem + ")");
                portsOk = false;
            }
        }
        if (!portsOk) {
            System.exit(1);
        }

        Runtime.getRuntime().addShutdownHook(new Thread(Launcher::shutdownAll, "twinfed-shutdown"));

        final long pageCacheBytes = pageCache;
        ExecutorService pool = Executors.newFixedThreadPool(instances.size(), r -> {
            Thread t = new Thread(r, "twinfed-start");
            t.setDaemon(true);
            return t;
        });
        startupPool = pool;
        List<Future<?>> futures = new ArrayList<>();
        for (Instance inst : instances) {
            futures.add(pool.submit(() -> {
                startInstance(root, inst, pageCacheBytes);
                return null;
            }));
        }
        pool.shutdown();

        boolean allOk = true;
        for (int i = 0; i < instances.size(); i++) {
            Instance inst = instances.get(i);
            try {
                futures.get(i).get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                emit("FAILED " + inst.name() + " interrupted during start-up");
                allOk = false;
            } catch (java.util.concurrent.ExecutionException e) {
                if (!(e.getCause() instanceof ShuttingDown)) {
                    emit("FAILED " + inst.name() + " " + describe(e.getCause()));
                    allOk = false;
                }
            }
        }
        if (!allOk) {
            System.exit(1); // the shutdown hook stops the instances that did start
        }

        synchronized (Launcher.class) {
            if (shuttingDown) {
                return; // a signal arrived during start-up; the hook reports STOPPED lines
            }
            for (Instance inst : instances) {
                emit("READY " + inst.name() + " " + inst.uri());
            }
            emit("ALL READY");
        }

        if (exitOnStdinEof) {
            // The parent holds our stdin open; when it goes away (even if it is SIGKILLed),
            // we shut down instead of leaking a JVM with open stores.
            try (InputStream in = System.in) {
                byte[] buf = new byte[256];
                while (in.read(buf) >= 0) {
                    // ignore input
                }
            } catch (IOException ignored) {
                // treat as EOF
            }
            System.exit(0);
        }
        try {
            new CountDownLatch(1).await(); // until a signal runs the shutdown hook
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void startInstance(Path root, Instance inst, long pageCacheBytes)
            throws Exception {
        Path home = root.resolve(inst.name());
        Files.createDirectories(home);
        synchronized (Launcher.class) {
            if (shuttingDown) {
                throw new ShuttingDown();
            }
        }
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(HOST, inst.port()))
                .setConfig(BoltConnector.advertised_address, new SocketAddress(HOST, inst.port()))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(BoltConnector.thread_pool_min_size, 1)
                .setConfig(BoltConnector.server_bolt_telemetry_enabled, false)
                // Bolt shuts down after the databases; its default 2 x 5 s grace waits only
                // slow down stop/restart cycles.
                .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time,
                        Duration.ofMillis(500))
                .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time,
                        Duration.ofMillis(500))
                .setConfig(HttpConnector.enabled, false)
                .setConfig(HttpsConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, false)
                .setConfig(GraphDatabaseSettings.udc_enabled, false)
                .setConfig(GraphDatabaseSettings.pagecache_memory, pageCacheBytes)
                .setConfig(GraphDatabaseSettings.pagecache_warmup_enabled, false)
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "2 files")
                .setConfig(GraphDatabaseSettings.logical_log_rotation_threshold,
                        ByteUnit.mebiBytes(16))
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                .setConfig(GraphDatabaseSettings.preallocate_store_files, false)
                .setConfig(GraphDatabaseSettings.shutdown_transaction_end_timeout,
                        Duration.ofSeconds(5))
                .build();
        synchronized (Launcher.class) {
            if (shuttingDown) {
                // a signal arrived while this instance was starting: close it again
                dbms.shutdown();
                emit("STOPPED " + inst.name());
                throw new ShuttingDown();
            }
            STARTED.put(inst.name(), dbms);
        }
        // From here on a failure leaves the DBMS registered: main() reports FAILED and exits,
        // and the shutdown hook closes it with the others.
        if (!dbms.database(DEFAULT_DB).isAvailable(DB_AVAILABLE_TIMEOUT_MS)) {
            throw new IllegalStateException("database '" + DEFAULT_DB
                    + "' did not become available; see " + home.resolve("logs/debug.log"));
        }
        String problem = checkConnectable(inst.port());
        if (problem != null) {
            throw new IllegalStateException("Bolt connector on " + inst.uri()
                    + " is not accepting connections (" + problem + ")");
        }
    }

    /** Start-up was cut short by a shutdown signal; not a failure. */
    private static final class ShuttingDown extends RuntimeException {
        private static final long serialVersionUID = 1L;

        ShuttingDown() {
            super("launcher is shutting down", null, false, false);
        }
    }

    /** Shuts down every started instance; runs as the JVM shutdown hook. */
    private static void shutdownAll() {
        ExecutorService pool = startupPool;
        synchronized (Launcher.class) {
            shuttingDown = true;
        }
        if (pool != null) {
            try {
                // let instances that are mid-start finish, so their stores close cleanly
                pool.awaitTermination(STARTUP_DRAIN_TIMEOUT_S, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        List<Map.Entry<String, DatabaseManagementService>> toStop;
        synchronized (Launcher.class) {
            toStop = new ArrayList<>(STARTED.entrySet());
            STARTED.clear();
        }
        List<Thread> stoppers = new ArrayList<>();
        for (Map.Entry<String, DatabaseManagementService> e : toStop) {
            Thread t = new Thread(() -> {
                try {
                    e.getValue().shutdown();
                    emit("STOPPED " + e.getKey());
                } catch (Throwable t1) {
                    emit("STOPPED " + e.getKey() + " with error: " + describe(t1));
                }
            }, "twinfed-stop-" + e.getKey());
            t.start();
            stoppers.add(t);
        }
        for (Thread t : stoppers) {
            try {
                t.join();
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Returns null if 127.0.0.1:port can be bound right now, else a short reason. */
    private static String checkPortFree(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true); // like Netty: ignore TIME_WAIT leftovers
            s.bind(new InetSocketAddress(InetAddress.getByName(HOST), port));
            return null;
        } catch (IOException e) {
            return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        }
    }

    /** Returns null if a TCP connection to 127.0.0.1:port succeeds, else a short reason. */
    private static String checkConnectable(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(InetAddress.getByName(HOST), port), 5000);
            return null;
        } catch (IOException e) {
            return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        }
    }

    private static Instance parseInstance(String spec) {
        int colon = spec.lastIndexOf(':');
        if (colon <= 0 || colon == spec.length() - 1) {
            usageError("--instance expects NAME:PORT, got '" + spec + "'");
        }
        String name = spec.substring(0, colon);
        if (!NAME.matcher(name).matches()) {
            usageError("invalid instance name '" + name
                    + "' (letters, digits, '_', '.', '-'; max 63 chars)");
        }
        int port = -1;
        try {
            port = Integer.parseInt(spec.substring(colon + 1));
        } catch (NumberFormatException e) {
            usageError("invalid port in '" + spec + "'");
        }
        if (port < 1 || port > 65535) {
            usageError("port out of range in '" + spec + "'");
        }
        return new Instance(name, port);
    }

    private static long parseSize(String s) {
        String v = s.trim().toLowerCase(java.util.Locale.ROOT);
        long mult = 1;
        if (v.endsWith("k")) {
            mult = ByteUnit.kibiBytes(1);
        } else if (v.endsWith("m")) {
            mult = ByteUnit.mebiBytes(1);
        } else if (v.endsWith("g")) {
            mult = ByteUnit.gibiBytes(1);
        }
        if (mult != 1) {
            v = v.substring(0, v.length() - 1);
        }
        try {
            long n = Long.parseLong(v) * mult;
            if (n <= 0) {
                usageError("size must be positive: " + s);
            }
            return n;
        } catch (NumberFormatException e) {
            usageError("invalid size '" + s + "' (e.g. 64m)");
            return -1;
        }
    }

    private static String requireValue(String[] args, int i, String flag) {
        if (i >= args.length) {
            usageError(flag + " needs a value");
        }
        return args[i];
    }

    private static void usageError(String message) {
        usage(message);
        System.exit(2);
    }

    private static void usage(String error) {
        PrintStream err = System.err;
        if (error != null) {
            err.println("twinfed-neo4j-launcher: " + error);
        }
        err.println("usage: java -cp 'target/classes:target/lib/*' twinfed.neo4j.Launcher"
                + " --data DIR --instance NAME:PORT [--instance NAME:PORT ...]"
                + " [--page-cache SIZE] [--exit-on-stdin-eof]");
        err.flush();
    }

    /** Root cause, on one line. */
    private static String describe(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String msg = root.getMessage();
        String text = root.getClass().getSimpleName() + (msg == null ? "" : ": " + msg);
        if (root != t && t.getMessage() != null && !t.getMessage().equals(msg)) {
            text = text + " (" + t.getMessage() + ")";
        }
        return text.replaceAll("\\s+", " ").trim();
    }

    private static void emit(String line) {
        synchronized (OUT) {
            OUT.println(line);
            OUT.flush();
        }
    }
}
