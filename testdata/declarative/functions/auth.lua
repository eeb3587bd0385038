return function(conf)
  kong.log.info("auth")
end
