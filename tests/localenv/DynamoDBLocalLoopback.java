// Starts Amazon's DynamoDB Local bound to 127.0.0.1 only.
//
// Why this exists: DynamoDBLocal.jar (3.x) has no option for the listen
// address; its Jetty server listens on every interface. This launcher builds
// the server exactly as DynamoDBLocal.jar's own main does (same command line
// options), then sets the host of Jetty's connectors to loopback before
// starting it. It skips DynamoDB Local's telemetry set-up, so nothing leaves
// the machine.
//
// Run in Java's single-file source mode (no build step), from
// tests/localenv/local_aws.py:
//   java -Djava.library.path=LIB -cp "JAR:LIB/*" DynamoDBLocalLoopback.java \
//        -inMemory -sharedDb -disableTelemetry -port N
// If the jar's internals change, the launcher fails loudly rather than
// silently binding to every interface.

import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public class DynamoDBLocalLoopback {
    public static void main(String[] args) throws Exception {
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        int bound = 0;
        for (Connector connector : server.getConnectors()) {
            if (connector instanceof ServerConnector serverConnector) {
                serverConnector.setHost("127.0.0.1");
                bound++;
            }
        }
        if (bound == 0) {
            throw new IllegalStateException("DynamoDB Local: no Jetty ServerConnector found to bind to 127.0.0.1");
        }
        // Jetty's threads keep the JVM alive after main returns, as with the jar's own main.
        proxy.start();
        System.out.println("DynamoDB Local listening on 127.0.0.1 (" + bound + " connector(s))");
    }
}
