/**
 * A free TCP port on 127.0.0.1, for a server a test starts in a child
 * process (PostgreSQL, Prometheus), which must be told its port before it
 * binds: asked of the system, then let go.
 */
import * as net from "node:net"

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
