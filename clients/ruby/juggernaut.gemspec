require_relative "lib/juggernaut"

Gem::Specification.new do |s|
  s.name        = "juggernaut"
  s.version     = Juggernaut::VERSION
  s.summary     = "Publish to juggernautd (and the original Juggernaut) from Ruby"
  s.description = "Drop-in for the juggernaut gem: Juggernaut.publish / subscribe through " \
                  "Redis, plus juggernautd's private-channel signatures, presence, history " \
                  "and HTTP publish API."
  s.authors     = ["juggernautd contributors"]
  s.license     = "MIT"
  s.files       = ["lib/juggernaut.rb"]
  s.require_paths = ["lib"]
  s.required_ruby_version = ">= 2.7"
  s.add_runtime_dependency "redis", ">= 4.0"
end
