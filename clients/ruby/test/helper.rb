# Test support: a real redis-server and a real juggernautd on free ports (never 6379), and a
# minimal socket.io 0.9 xhr-polling client, so the tests see what a browser would receive.
require "minitest/autorun"
require "socket"
require "net/http"
require "json"
require "tmpdir"
$LOAD_PATH.unshift File.expand_path("../lib", __dir__)
require "juggernaut"

module JugTest
  ROOT = File.expand_path("../../..", __dir__)
  BIN = ENV["JUGGERNAUTD_BIN"] || File.join(ROOT, "build/release/juggernautd")
  AUTH_SECRET = "ruby-test-secret-0123456789"
  PUBLISH_TOKEN = "ruby-test-publish-token"

  def self.free_port
    s = TCPServer.new("127.0.0.1", 0)
    s.addr[1]
  ensure
    s&.close
  end

  def self.wait_port(port, secs = 10)
    deadline = Time.now + secs
    begin
      TCPSocket.new("127.0.0.1", port).close
    rescue SystemCallError
      raise "port #{port} not ready" if Time.now > deadline
      sleep 0.05
      retry
    end
  end

  # Starts redis + juggernautd once for the whole run; killed by pid at exit.
  def self.start
    return @env if @env
    dir = Dir.mktmpdir("jug-ruby")
    rport = free_port
    rpid = spawn("redis-server", "--port", rport.to_s, "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", dir, out: File.join(dir, "redis.log"), err: [:child, :out])
    wait_port(rport)
    port = free_port
    admin = free_port
    File.write(File.join(dir, "juggernautd.conf"), <<~CONF)
      port #{port}
      bind 127.0.0.1
      redis-url redis://127.0.0.1:#{rport}
      admin-bind 127.0.0.1
      admin-port #{admin}
      publish-token #{PUBLISH_TOKEN}
      auth-secret #{AUTH_SECRET}
      history "* 100 3600"
      drain-period 0
      polling-duration 2
      public-dir #{File.join(ROOT, "public")}
    CONF
    raise "no juggernautd at #{BIN} (run make)" unless File.executable?(BIN)
    jpid = spawn(BIN, "--config", File.join(dir, "juggernautd.conf"), out: File.join(dir, "juggernautd.log"),
                 err: [:child, :out])
    wait_port(port)
    wait_port(admin)
    at_exit do
      [jpid, rpid].each do |pid|
        Process.kill("TERM", pid) rescue nil
        Process.wait(pid) rescue nil
      end
    end
    @env = { redis_url: "redis://127.0.0.1:#{rport}", port: port, admin_url: "http://127.0.0.1:#{admin}", dir: dir }
  end

  # A socket.io 0.9 xhr-polling session, the transport a browser falls back to. Every request
  # is a new TCP connection.
  class Client
    attr_reader :sid, :messages

    def initialize(port)
      @port = port
      @messages = []
      @sid = get("/socket.io/1/?t=#{stamp}").split(":").first
      poll # "1::" (connect)
    end

    # Sends a juggernaut client message ({"type":"subscribe", ...}).
    def send_json(obj)
      http = Net::HTTP.new("127.0.0.1", @port)
      req = Net::HTTP::Post.new("/socket.io/1/xhr-polling/#{@sid}?t=#{stamp}")
      req.body = "3:::#{obj.to_json}"
      res = http.request(req)
      raise "POST #{res.code}" unless res.code == "200"
    end

    def subscribe(channel, extra = {})
      send_json({ type: "subscribe", channel: channel }.merge(extra))
    end

    # Polls until a juggernaut message satisfies the block (or +secs+ pass); returns it.
    def wait_for(secs = 5, &blk)
      deadline = Time.now + secs
      loop do
        found = @messages.find(&blk)
        return found if found
        return nil if Time.now > deadline
        poll
      end
    end

    def poll
      body = get("/socket.io/1/xhr-polling/#{@sid}?t=#{stamp}", 10)
      frames = body.start_with?("\ufffd") ? body.split("\ufffd").drop(1).each_slice(2).map(&:last).compact : [body]
      frames.each do |f|
        next unless f.start_with?("3:::") || f.start_with?("4:::")
        @messages << JSON.parse(f.sub(/\A\d:::/, ""))
      end
    rescue Net::ReadTimeout
      nil
    end

    private

    def stamp
      (Time.now.to_f * 1000).to_i.to_s + rand(1000).to_s
    end

    def get(path, read_timeout = 25)
      http = Net::HTTP.new("127.0.0.1", @port)
      http.read_timeout = read_timeout
      res = http.get(path)
      raise "GET #{path}: #{res.code}" unless res.code == "200"
      res.body.force_encoding("UTF-8")
    end
  end
end
